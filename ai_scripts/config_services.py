"""Remote app configuration rules: staff edit a draft (ConfigParameter, ConfigRule), and every
publish, rollback or import makes it a new ConfigVersion, which is what apps receive.

Apps are answered from the newest version, found with one query per request, so an edit
reaches every process at once; each process builds a version's Config once.
"""

import functools

from django.db import transaction

from accounts.models import User
from ai_scripts import app_config
from ai_scripts.models import ConfigParameter, ConfigRule, ConfigVersion
from persona import events


def config_live() -> app_config.Config:
    """The newest published configuration (an empty one before the first publish)."""
    newest = ConfigVersion.objects.order_by("-number").values_list("number", "published_at").first()
    return _config_of(*newest) if newest else app_config.Config(number=0, parameters=())


@functools.lru_cache(maxsize=4)
def _config_of(number: int, published_at) -> app_config.Config:
    # Keyed by the publishing time too: a database restored from a backup may reuse a number.
    document = ConfigVersion.objects.values_list("document", flat=True).get(number=number)
    return app_config.Config.from_document(document, number=number)


def config_live_document() -> dict:
    """The newest published document, in the export format."""
    newest = ConfigVersion.objects.order_by("-number").values_list("document", flat=True).first()
    return newest if newest is not None else app_config.EMPTY_DOCUMENT


def config_draft_document() -> dict:
    """The draft as a document, in the export format (not checked)."""
    parameters = ConfigParameter.objects.prefetch_related("rules").order_by("key")
    return {"parameters": {parameter.key: _parameter_document(parameter) for parameter in parameters}}


def config_publish(*, published_by: User | None = None, note: str = "") -> ConfigVersion | None:
    """Publishes the draft as a new version; None when it equals the newest version already.
    A draft that does not pass app_config.document_check is a DocumentError."""
    with transaction.atomic():
        newest = ConfigVersion.objects.select_for_update().order_by("-number").first()
        # Admin saves update the parameter row: locking the rows waits for an edit in progress,
        # so the draft read is never half of one.
        list(ConfigParameter.objects.select_for_update().values_list("pk", flat=True))
        document = app_config.document_check(config_draft_document())
        if newest is not None and app_config.documents_equal(newest.document, document):
            return None
        version = ConfigVersion.objects.create(
            number=newest.number + 1 if newest else 1,
            document=document,
            note=note,
            published_by=published_by,
        )
        events.broadcast(type=events.EventType.APP_CONFIG_CHANGED, data={"config_version": version.number})
    return version


def config_import(
    *, document, published_by: User | None = None, note: str = "", dry_run: bool = False
) -> ConfigVersion | None:
    """Replaces the draft with the document and publishes it (None: the newest version holds
    it already). A bad document is a DocumentError and changes nothing."""
    checked = app_config.document_check(document)
    with transaction.atomic():
        _draft_replace(checked)
        version = config_publish(published_by=published_by, note=note)
        if dry_run:
            transaction.set_rollback(True)
    return version


def config_rollback(*, version: ConfigVersion, published_by: User | None = None) -> ConfigVersion | None:
    """Publishes an earlier version's document again as a new version, and makes it the
    draft (unpublished draft edits are dropped); None when the newest version holds it."""
    return config_import(
        document=version.document, published_by=published_by, note=f"Rollback to version {version.number}"
    )


def _draft_replace(document: dict) -> None:
    ConfigParameter.objects.all().delete()
    parameters = ConfigParameter.objects.bulk_create(
        ConfigParameter(
            key=key,
            value_type=parameter["type"],
            default_value=parameter["default"],
            description=parameter["description"],
        )
        for key, parameter in document["parameters"].items()
    )
    ConfigRule.objects.bulk_create(
        ConfigRule(
            parameter=parameter,
            position=position,
            platforms=rule.get("platforms", []),
            app_versions=rule.get("app_versions", ""),
            signed_in=rule.get("signed_in"),
            rollout_percent=rule.get("rollout_percent"),
            value=rule["value"],
        )
        for parameter in parameters
        for position, rule in enumerate(document["parameters"][parameter.key]["rules"], start=1)
    )


def _parameter_document(parameter: ConfigParameter) -> dict:
    rules = []
    for rule in sorted(parameter.rules.all(), key=lambda rule: (rule.position, rule.pk)):
        entry = {"value": rule.value}
        if rule.platforms:
            entry["platforms"] = rule.platforms
        if rule.app_versions:
            entry["app_versions"] = rule.app_versions
        if rule.signed_in is not None:
            entry["signed_in"] = rule.signed_in
        if rule.rollout_percent is not None:
            entry["rollout_percent"] = rule.rollout_percent
        rules.append(entry)
    return {
        "type": parameter.value_type,
        "default": parameter.default_value,
        "description": parameter.description,
        "rules": rules,
    }
