"""AI scripts rules: every change to a script records its new state and moves the scripts stamp.

The stamp is a token in the shared cache that names the current generation of the scripts.
Each process keeps the JSON and ETags it rendered per generation, so a read is answered
after one cache read (the stamp); every change replaces the stamp after its transaction
commits, which retires every rendered ETag at once. A lost stamp (cache cleared or
evicted) is simply replaced by a fresh one, whose ETags are then rendered from the database.
"""

import http.client
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from ai_scripts.models import AIScript, AIScriptVersion, AIService
from ai_scripts.serializers import AIScriptImportSerializer

logger = logging.getLogger(__name__)

STAMP_KEY = "ai_scripts:stamp"
HEALTH_KEY = "ai_scripts:health"
SCRIPT_FIELDS = ("script_name", "version", "script_content", "is_active")
# Probes still running this long after the longest timeout count as down.
PROBE_GRACE_SECONDS = 0.5
MAX_PROBE_THREADS = 16


def scripts_stamp() -> str:
    """The current generation of the scripts; a fresh one when the cache has lost it."""
    stamp = cache.get(STAMP_KEY)
    if stamp is None:
        # add() keeps a stamp that a concurrent change or request set first.
        cache.add(STAMP_KEY, uuid.uuid4().hex, timeout=None)
        stamp = cache.get(STAMP_KEY)
    return stamp


def script_save(*, script: AIScript, changed_by: User | None = None) -> bool:
    """Creates or updates the script and records its new state; False when nothing changed."""
    with transaction.atomic():
        if script._state.adding:
            script.created_at = script.updated_at = timezone.now()
            script.save(force_insert=True)
        else:
            stored = AIScript.objects.select_for_update().get(pk=script.pk)
            if _state_of(stored) == _state_of(script):
                return False
            script.updated_at = timezone.now()
            script.save(update_fields=[*SCRIPT_FIELDS, "updated_at"])
        _record([script], changed_by=changed_by)
    return True


def scripts_set_active(
    *, scripts: QuerySet[AIScript], is_active: bool, changed_by: User | None = None
) -> int:
    """Activates or deactivates the scripts, recording each one that changed; returns how many did."""
    selected = list(scripts.values_list("pk", flat=True))
    with transaction.atomic():
        changing = list(
            AIScript.objects.select_for_update().filter(pk__in=selected).exclude(is_active=is_active)
        )
        if not changing:
            return 0
        now = timezone.now()
        for script in changing:
            script.is_active, script.updated_at = is_active, now
        AIScript.objects.bulk_update(changing, ["is_active", "updated_at"])
        _record(changing, changed_by=changed_by)
    return len(changing)


def script_restore(*, record: AIScriptVersion, changed_by: User | None = None) -> bool:
    """Brings back a recorded version and content (whether the script is active stays as it
    is); False when the script already holds them."""
    with transaction.atomic():
        script = AIScript.objects.select_for_update().get(pk=record.script_id)
        script.version, script.script_content = record.version, record.script_content
        return script_save(script=script, changed_by=changed_by)


def scripts_delete(*, scripts: QuerySet[AIScript]) -> None:
    """Deletes the scripts with their history."""
    selected = list(scripts.values_list("pk", flat=True))
    with transaction.atomic():
        AIScript.objects.filter(pk__in=selected).delete()
        _stamp_replace_on_commit()


@dataclass
class ImportResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


class ScriptImportError(ValueError):
    """An import file that cannot be applied; the message names the bad entry."""


def scripts_import(*, entries, dry_run: bool = False, changed_by: User | None = None) -> ImportResult:
    """Upserts scripts by script_name from a list of entries: all of them or, on any error, none.

    An entry holds script_name, version, script_content and optionally is_active (new
    scripts are active when it is left out; existing ones keep their flag).
    """
    validated = _validated_entries(entries)
    result = ImportResult(created=[], updated=[], unchanged=[])
    with transaction.atomic():
        existing = {
            script.script_name: script
            for script in AIScript.objects.select_for_update().filter(
                script_name__in=[entry["script_name"] for entry in validated]
            )
        }
        for entry in validated:
            script = existing.get(entry["script_name"]) or AIScript(script_name=entry["script_name"])
            created = script._state.adding
            for field, value in entry.items():
                setattr(script, field, value)
            changed = script_save(script=script, changed_by=changed_by)
            outcome = result.created if created else result.updated if changed else result.unchanged
            outcome.append(script.script_name)
        if dry_run:
            # Rolling back also drops the stamp change, so a dry run is invisible to clients.
            transaction.set_rollback(True)
    return result


def scripts_export() -> list[dict]:
    """Every script, active or not, in the shape scripts_import reads, sorted by name."""
    return [
        {field: getattr(script, field) for field in SCRIPT_FIELDS}
        for script in AIScript.objects.order_by("script_name")
    ]


def ai_health_report() -> dict:
    """The health of the enabled AI services, cached briefly so clients cannot hammer them."""
    report = cache.get(HEALTH_KEY)
    if report is None:
        statuses = ai_services_probe(services=list(AIService.objects.filter(enabled=True)))
        up = sum(1 for status in statuses if status["status"] == "up")
        report = {
            "status": "ok" if up == len(statuses) else "down" if up == 0 else "degraded",
            "services": statuses,
            "active_scripts": AIScript.objects.filter(is_active=True).count(),
        }
        cache.set(HEALTH_KEY, report, timeout=settings.AI_HEALTH_CACHE_SECONDS)
    return report


def ai_services_probe(*, services: list[AIService]) -> list[dict]:
    """Probes the services' health URLs concurrently: `{"name", "status", "latency_ms"}` each.

    Each probe has its service's timeout, and the whole call returns at most
    PROBE_GRACE_SECONDS after the longest one: a probe still running then counts as down.
    """
    if not services:
        return []
    executor = ThreadPoolExecutor(max_workers=min(len(services), MAX_PROBE_THREADS))
    futures = [executor.submit(_probe, service.health_url, service.timeout_seconds) for service in services]
    wait(futures, timeout=max(service.timeout_seconds for service in services) + PROBE_GRACE_SECONDS)
    executor.shutdown(wait=False, cancel_futures=True)
    return [
        {"name": service.name, **(future.result() if future.done() and not future.cancelled() else _DOWN)}
        for service, future in zip(services, futures, strict=True)
    ]


_DOWN = {"status": "down", "latency_ms": None}
_CONNECTIONS = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}


def _probe(url: str, timeout: float) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in _CONNECTIONS or not parts.hostname:
        return _DOWN
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        # parts.port is parsed here: a malformed port is a ValueError, so a down service.
        connection = _CONNECTIONS[parts.scheme](parts.hostname, parts.port, timeout=timeout)
        try:
            connection.request("GET", target, headers={"User-Agent": "persona-health-check"})
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as error:
        # Only the host goes to the log: the URL's path or query may hold a key.
        logger.info("AI service probe to %s failed: %s", parts.hostname, type(error).__name__)
        return _DOWN
    latency_ms = round((time.monotonic() - started) * 1000)
    return {"status": "up" if 200 <= status < 300 else "down", "latency_ms": latency_ms}


def _validated_entries(entries) -> list[dict]:
    if not isinstance(entries, list):
        raise ScriptImportError("The file must hold a JSON list of scripts.")
    validated, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        label = f"entry {number}"
        if not isinstance(entry, dict):
            raise ScriptImportError(f"{label}: must be a JSON object.")
        if isinstance(entry.get("script_name"), str):
            label += f" ({entry['script_name']!r})"
        unknown = sorted(set(entry) - set(SCRIPT_FIELDS))
        if unknown:
            raise ScriptImportError(f"{label}: unknown field(s) {', '.join(unknown)}.")
        serializer = AIScriptImportSerializer(data=entry)
        if not serializer.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(str(message) for message in messages)}"
                for field, messages in serializer.errors.items()
            )
            raise ScriptImportError(f"{label}: {problems}")
        if serializer.validated_data["script_name"] in seen:
            raise ScriptImportError(f"{label}: script_name appears more than once in the file.")
        seen.add(serializer.validated_data["script_name"])
        validated.append(dict(serializer.validated_data))
    return validated


def _state_of(script: AIScript) -> tuple:
    return tuple(getattr(script, field) for field in SCRIPT_FIELDS)


def _record(scripts: list[AIScript], *, changed_by: User | None) -> None:
    AIScriptVersion.objects.bulk_create(
        AIScriptVersion(
            script=script,
            version=script.version,
            script_content=script.script_content,
            is_active=script.is_active,
            changed_by=changed_by,
            changed_at=script.updated_at,
        )
        for script in scripts
    )
    _stamp_replace_on_commit()


def _stamp_replace_on_commit() -> None:
    # After the commit, never before: a reader that sees the new stamp must also see the new
    # rows, or it would cache an ETag for the old content under the new stamp.
    transaction.on_commit(lambda: cache.set(STAMP_KEY, uuid.uuid4().hex, timeout=None))
