"""AI scripts rules: every change to a script records its new state (and moves its
updated_at, from which the API's ETags are derived); the AI services' health, probed by one
request at a time.
"""

import hashlib
import http.client
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from ai_scripts.models import AIScript, AIScriptVersion, AIService, ModelRoute
from ai_scripts.serializers import AIScriptImportSerializer
from persona import events
from persona.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

HEALTH_KEY = "ai_scripts:health"
PROBING_KEY = "ai_scripts:health:probing"
SCRIPT_FIELDS = ("script_name", "version", "script_content", "is_active")
# Probes still running this long after the longest timeout count as down.
PROBE_GRACE_SECONDS = 0.5
MAX_PROBE_THREADS = 16


def scripts_etag(*, script_name: str | None = None) -> str | None:
    """An ETag for the active scripts (or the one active script of this name; None when there
    is none), derived from the database so that every process sees an edit at once: a digest
    of each script's id, active flag and updated_at, which every change moves."""
    scripts = AIScript.objects.order_by("pk")
    if script_name is not None:
        scripts = scripts.filter(script_name=script_name, is_active=True)
    rows = list(scripts.values_list("pk", "is_active", "updated_at"))
    if script_name is not None and not rows:
        return None
    return hashlib.sha256(repr((script_name, rows)).encode()).hexdigest()


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
        events.broadcast(type=events.EventType.AI_SCRIPTS_CHANGED)


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
            transaction.set_rollback(True)
    return result


def scripts_export() -> list[dict]:
    """Every script, active or not, in the shape scripts_import reads, sorted by name."""
    return [
        {field: getattr(script, field) for field in SCRIPT_FIELDS}
        for script in AIScript.objects.order_by("script_name")
    ]


def ai_health_report() -> dict:
    """The health of the enabled AI services, probed at most once per AI_HEALTH_CACHE_SECONDS.

    When the last report is older, one request (in any process) probes while the others
    answer with that last report, so a hanging upstream holds one thread, not every one.
    """
    kept = cache.get(HEALTH_KEY)
    if kept is not None and time.time() - kept["checked_at"] < settings.AI_HEALTH_CACHE_SECONDS:
        return kept["report"]
    services = list(AIService.objects.filter(enabled=True))
    probe_seconds = max((service.timeout_seconds for service in services), default=0) + PROBE_GRACE_SECONDS
    if not cache.add(PROBING_KEY, True, timeout=math.ceil(probe_seconds) + 1):
        if kept is not None:
            return kept["report"]
        raise ServiceUnavailable("The AI services are being checked; try again in a moment.", retry_after=1)
    try:
        statuses = ai_services_probe(services=services)
        up = sum(1 for status in statuses if status["status"] == "up")
        report = {
            "status": "ok" if up == len(statuses) else "down" if up == 0 else "degraded",
            "services": statuses,
            "models": _model_statuses(statuses),
            "active_scripts": AIScript.objects.filter(is_active=True).count(),
        }
        cache.set(HEALTH_KEY, {"report": report, "checked_at": time.time()}, timeout=None)
    finally:
        cache.delete(PROBING_KEY)
    return report


def ai_services_probe(*, services: list[AIService]) -> list[dict]:
    """Probes the services' health URLs concurrently: `{"name", "status", "latency_ms",
    "provider"}` each. A relay provider without a health URL is probed at its `/models`, with
    its key.

    Each probe has its service's timeout, and the whole call returns at most
    PROBE_GRACE_SECONDS after the longest one: a probe still running then counts as down.
    """
    if not services:
        return []
    executor = ThreadPoolExecutor(max_workers=min(len(services), MAX_PROBE_THREADS))
    futures = [
        executor.submit(_probe, *_probe_target(service), service.timeout_seconds) for service in services
    ]
    wait(futures, timeout=max(service.timeout_seconds for service in services) + PROBE_GRACE_SECONDS)
    executor.shutdown(wait=False, cancel_futures=True)
    return [
        {
            "name": service.name,
            **(future.result() if future.done() and not future.cancelled() else _DOWN),
            "provider": bool(service.base_url),
        }
        for service, future in zip(services, futures, strict=True)
    ]


def _probe_target(service: AIService) -> tuple[str, dict]:
    if service.health_url:
        return service.health_url, {}
    key = service.api_key()
    return service.base_url.rstrip("/") + "/models", {"Authorization": f"Bearer {key}"} if key else {}


def _model_statuses(statuses: list[dict]) -> list[dict]:
    """Each model alias the relay serves: up while one of its enabled providers is."""
    up = {status["name"] for status in statuses if status["status"] == "up"}
    routes = ModelRoute.objects.filter(alias__enabled=True, service__enabled=True).exclude(
        service__base_url=""
    )
    served: dict[str, bool] = {}
    for alias, provider in routes.order_by("alias__name").values_list("alias__name", "service__name"):
        served[alias] = served.get(alias, False) or provider in up
    return [{"id": alias, "status": "up" if is_up else "down"} for alias, is_up in served.items()]


_DOWN = {"status": "down", "latency_ms": None}
_CONNECTIONS = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}


def _probe(url: str, headers: dict, timeout: float) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in _CONNECTIONS or not parts.hostname:
        return _DOWN
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        # parts.port is parsed here: a malformed port is a ValueError, so a down service.
        connection = _CONNECTIONS[parts.scheme](parts.hostname, parts.port, timeout=timeout)
        try:
            connection.request("GET", target, headers={"User-Agent": "persona-health-check", **headers})
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
    """Keeps the scripts' new state in their history, and tells every device to refetch."""
    events.broadcast(type=events.EventType.AI_SCRIPTS_CHANGED)
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
