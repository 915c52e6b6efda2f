import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ai_scripts import services
from ai_scripts.models import AIScript, AIScriptVersion, AIService


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
        context = {
            **self.admin_site.each_context(request),
            "title": f"Restore {record.script} to version {record.version}?",
            "opts": self.opts,
            "record": record,
            "content": pretty_json(record.script_content),
        }
        return TemplateResponse(request, "admin/ai_scripts/aiscript/restore_confirmation.html", context)


@admin.register(AIService)
class AIServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "timeout_seconds"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    fields = ["name", "health_url", "timeout_seconds", "enabled"]
    # A URL typed without a scheme is most likely an https endpoint.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
