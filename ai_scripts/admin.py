import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Prefetch
from django.forms.fields import InvalidJSONInput
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from ai_scripts import services
from ai_scripts.budgets import BUDGETS, budget_default, budget_limits, budget_usage
from ai_scripts.models import (
    AIBudget,
    AIRequest,
    AIScript,
    AIScriptVersion,
    AIService,
    AIUsageDay,
    ModelAlias,
    ModelRoute,
    validate_model_list,
)
from persona.admin import ReadOnlyModelAdmin

# The remote app configuration's admin lives beside this one.
from ai_scripts import config_admin  # noqa: F401  isort: skip


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class ScriptContentField(forms.JSONField):
    """JSON edited pretty-printed, with the parser's own words when it is not valid."""

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        return pretty_json(value)

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                json.loads(value)
            except json.JSONDecodeError as error:
                raise ValidationError(f"This is not valid JSON: {error}.", code="invalid") from None
        return super().to_python(value)


class AIScriptForm(forms.ModelForm):
    script_content = ScriptContentField(
        help_text="A JSON object of at most 64 KiB.",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}),
    )

    class Meta:
        model = AIScript
        fields = ["script_name", "version", "script_content", "is_active"]


class AIScriptVersionInline(admin.TabularInline):
    """The script's history, newest first: read-only, each with a link to restore it."""

    model = AIScriptVersion
    fields = ["changed_at", "version", "is_active", "changed_by", "content", "restore"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History (newest first)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_view_permission(self, request, obj=None):
        # Whoever may see or edit a script may see its history.
        return request.user.has_perm("ai_scripts.view_aiscript") or request.user.has_perm(
            "ai_scripts.change_aiscript"
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Content")
    def content(self, record):
        return format_html(
            '<pre style="max-height: 12em; overflow: auto; margin: 0">{}</pre>',
            pretty_json(record.script_content),
        )

    @admin.display(description="Restore")
    def restore(self, record):
        url = reverse("admin:ai_scripts_aiscript_restore", args=[record.script_id, record.pk])
        return format_html('<a href="{}">Restore this version…</a>', url)


@admin.register(AIScript)
class AIScriptAdmin(admin.ModelAdmin):
    form = AIScriptForm
    list_display = ["script_name", "version", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["script_name", "version"]
    ordering = ["script_name"]
    readonly_fields = ["created_at", "updated_at"]
    fields = ["script_name", "version", "script_content", "is_active", "created_at", "updated_at"]
    inlines = [AIScriptVersionInline]
    actions = ["activate", "deactivate"]

    # Every change goes through the services, which record history and move the ETag stamp.
    def save_model(self, request, obj, form, change):
        services.script_save(script=obj, changed_by=request.user)

    def delete_model(self, request, obj):
        services.scripts_delete(scripts=AIScript.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.scripts_delete(scripts=queryset)

    @admin.action(description="Activate selected scripts", permissions=["change"])
    def activate(self, request, queryset):
        count = services.scripts_set_active(scripts=queryset, is_active=True, changed_by=request.user)
        self.message_user(request, f"Activated {count} script(s).")

    @admin.action(description="Deactivate selected scripts", permissions=["change"])
    def deactivate(self, request, queryset):
        count = services.scripts_set_active(scripts=queryset, is_active=False, changed_by=request.user)
        self.message_user(request, f"Deactivated {count} script(s).")

    def get_urls(self):
        restore = path(
            "<uuid:script_id>/restore/<int:version_id>/",
            self.admin_site.admin_view(self.restore_view),
            name="ai_scripts_aiscript_restore",
        )
        return [restore, *super().get_urls()]

    def restore_view(self, request, script_id, version_id):
        """Asks for confirmation (GET), then makes the script hold that version again (POST)."""
        record = get_object_or_404(
            AIScriptVersion.objects.select_related("script"), pk=version_id, script_id=script_id
        )
        if not self.has_change_permission(request, record.script):
            raise PermissionDenied
        if request.method == "POST":
            saved = f"{record.changed_at:%Y-%m-%d %H:%M}"
            if services.script_restore(record=record, changed_by=request.user):
                self.message_user(
                    request, f"Restored {record.script} to version {record.version} of {saved}."
                )
            else:
                self.message_user(
                    request, f"{record.script} already holds version {record.version} of {saved}."
                )
            return redirect("admin:ai_scripts_aiscript_change", script_id)
        change_url = reverse("admin:ai_scripts_aiscript_change", args=[script_id])
        saved = f"{record.changed_at:%Y-%m-%d %H:%M:%S}"
        if record.changed_by:
            saved += f" by {record.changed_by}"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Restore {record.script} to version {record.version}?",
            "opts": self.opts,
            "crumbs": [
                (capfirst(self.opts.verbose_name_plural), reverse("admin:ai_scripts_aiscript_changelist")),
                (str(record.script), change_url),
            ],
            "action": "Restore",
            "explanation": "The script will hold this version and content again; whether it is active stays "
            "as it is. The restore is recorded in the history like any other change.",
            "record_label": f"Version {record.version}, saved {saved}:",
            "content": pretty_json(record.script_content),
            "submit_label": "Yes, restore this version",
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/ai_scripts/restore_confirmation.html", context)


class ModelListField(ScriptContentField):
    """A JSON list of model names; an empty box is the empty list (any model), never null."""

    def to_python(self, value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        return super().to_python(value)

    def validate(self, value):
        # `null` parses to None, which the model field would skip as blank and then fail to store.
        validate_model_list(value)


@admin.register(AIService)
class AIServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "is_provider", "priority", "api_key_status"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    readonly_fields = ["api_key_status"]
    fieldsets = [
        (None, {"fields": ["name", "enabled"]}),
        ("Health check", {"fields": ["health_url", "timeout_seconds"]}),
        (
            "Relay provider",
            {
                "fields": [
                    "base_url",
                    "api_key_env",
                    "api_key_status",
                    "allowed_models",
                    "priority",
                    "request_timeout_seconds",
                ]
            },
        ),
    ]
    formfield_overrides = {
        # A URL typed without a scheme is most likely an https endpoint.
        models.URLField: {"assume_scheme": "https"},
        # allowed_models, the only JSON field.
        models.JSONField: {
            "form_class": ModelListField,
            "widget": forms.Textarea(attrs={"rows": 4, "cols": 60, "style": "font-family: monospace"}),
        },
    }

    @admin.display(boolean=True, description="provider")
    def is_provider(self, service):
        return bool(service.base_url)

    @admin.display(description="API key")
    def api_key_status(self, service):
        # Only whether the variable holds a key: the key itself never reaches a page.
        if not service.api_key_env:
            return "—"
        return "set" if service.api_key() else "missing"


class ModelRouteInline(admin.TabularInline):
    model = ModelRoute
    fields = ["service", "model"]
    autocomplete_fields = ["service"]
    # The order the relay tries them in.
    ordering = ["service__priority", "service__name"]
    extra = 1


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "providers"]
    list_filter = ["enabled"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "enabled"]
    inlines = [ModelRouteInline]

    def get_queryset(self, request):
        routes = ModelRoute.objects.select_related("service").order_by("service__priority", "service__name")
        return super().get_queryset(request).prefetch_related(Prefetch("routes", queryset=routes))

    @admin.display(description="providers, in the order tried")
    def providers(self, alias):
        names = [
            route.service.name if route.service.enabled else f"{route.service.name} (disabled)"
            for route in alias.routes.all()
        ]
        return " → ".join(names) or "—"


def _budget_column(name: str):
    @admin.display(description=name.replace("_", " "), ordering=name)
    def column(budget):
        value = getattr(budget, name)
        if value is None:
            return f"default ({budget_default(name)})"
        return value or "no limit"

    return column


@admin.register(AIBudget)
class AIBudgetAdmin(admin.ModelAdmin):
    list_display = ["user", *(_budget_column(name) for name in BUDGETS)]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    ordering = ["user__email"]
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["user", "usage"]}),
        ("Budgets (UTC days and months)", {"fields": list(BUDGETS)}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The user is the primary key: changing it would save a second budget, not move this one.
        return ["user", "usage"] if obj else ["usage"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in BUDGETS:
            field.help_text = f"empty: the default ({budget_default(db_field.name)}); 0: no limit"
        return field

    @admin.display(description="used")
    def usage(self, budget):
        if budget.user_id is None:
            return "—"
        limits = budget_limits(user_id=budget.user_id)
        used = budget_usage(user_id=budget.user_id, now=timezone.now())
        labels = {
            "requests_per_day": "Requests today",
            "requests_per_month": "Requests this month",
            "tokens_per_day": "Tokens today",
            "tokens_per_month": "Tokens this month",
        }
        lines = (
            (label, f"{used[name]} of {limits[name]}" if limits[name] else f"{used[name]} (no limit)")
            for name, label in labels.items()
        )
        return format_html_join(mark_safe("<br>"), "{}: {}", lines)


@admin.register(AIRequest)
class AIRequestAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "user",
        "model_alias",
        "provider",
        "status",
        "outcome",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "duration_ms",
    ]
    list_filter = ["outcome", "stream", "model_alias", "provider"]
    date_hierarchy = "created_at"
    search_fields = ["user__email"]
    list_select_related = ["user"]
    # Counting every row of a table this large on each page costs more than the count is worth.
    show_full_result_count = False


@admin.register(AIUsageDay)
class AIUsageDayAdmin(ReadOnlyModelAdmin):
    list_display = ["day", "user", "requests", "prompt_tokens", "completion_tokens"]
    date_hierarchy = "day"
    search_fields = ["user__email"]
    list_select_related = ["user"]
    ordering = ["-day", "user__email"]
