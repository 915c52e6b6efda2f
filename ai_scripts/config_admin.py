"""The remote app configuration in the admin: staff edit the draft (parameters with their
rules), preview what an app would receive, publish it as a version, and roll back to an
earlier version. Registered by ai_scripts.admin."""

import difflib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Subquery
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from accounts.models import User
from ai_scripts import app_config, config_services
from ai_scripts.models import ConfigParameter, ConfigRule, ConfigVersion
from persona.admin import ReadOnlyModelAdmin


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def value_text(value) -> str:
    """How a value reads in the admin's box: true/false, a number, a string as it is, JSON."""
    if isinstance(value, str):
        return value
    return pretty_json(value) if isinstance(value, dict) else json.dumps(value)


def value_parsed(text: str, value_type: str):
    """The box's text read as the parameter's type wants it: as it is for a string, true/false for
    a boolean, JSON otherwise (app_config.check_value then checks what it is)."""
    if value_type == app_config.ValueType.STRING:
        return text
    if value_type == app_config.ValueType.BOOLEAN:
        if text.strip().lower() not in ("true", "false"):
            raise ValidationError("Write true or false.", code="invalid")
        return text.strip().lower() == "true"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        number = value_type == app_config.ValueType.NUMBER
        expected = "a number such as 4 or 0.5" if number else "a JSON object"
        raise ValidationError(f"Write {expected} ({error}).", code="invalid") from None
    return value


class TypedValueMixin:
    """A form whose `value_field` holds the text of a value of the parameter's type (its key and
    type from `self.parameter_key_and_type()`), refused with the reason when it is not one."""

    value_field: str

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial[self.value_field] = value_text(getattr(self.instance, self.value_field))

    def clean(self):
        cleaned = super().clean()
        key, value_type = self.parameter_key_and_type()
        if self.value_field in cleaned and value_type in app_config.ValueType.values:
            try:
                value = value_parsed(cleaned[self.value_field], value_type)
                app_config.check_value(value, value_type, key=key)
                cleaned[self.value_field] = value
            except ValidationError as error:
                self.add_error(self.value_field, error)
        return cleaned


class EitherYesNo(forms.NullBooleanSelect):
    """A condition left open reads "Either", not Django's "Unknown"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", "Either"), ("true", "Yes"), ("false", "No")]


VALUE_WIDGET = forms.Textarea(attrs={"rows": 2, "cols": 30, "class": "config-value"})


class ConfigParameterForm(TypedValueMixin, forms.ModelForm):
    value_field = "default_value"
    default_value = forms.CharField(
        label="Default value",
        strip=False,
        required=False,
        widget=VALUE_WIDGET,
        help_text="true/false for a boolean, a number, any text for a string, a JSON object for JSON.",
    )

    class Meta:
        model = ConfigParameter
        fields = ["key", "value_type", "default_value", "description"]

    def parameter_key_and_type(self) -> tuple[str, str]:
        return self.cleaned_data.get("key", ""), self.cleaned_data.get("value_type", "")


class ConfigRuleForm(TypedValueMixin, forms.ModelForm):
    value_field = "value"
    value = forms.CharField(strip=False, required=False, widget=VALUE_WIDGET)
    platforms = forms.MultipleChoiceField(
        choices=[(platform, platform) for platform in app_config.PLATFORMS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every platform.",
    )

    class Meta:
        model = ConfigRule
        fields = ["position", "platforms", "app_versions", "signed_in", "rollout_percent", "value"]
        widgets = {"app_versions": forms.TextInput(attrs={"size": 18}), "signed_in": EitherYesNo}

    def parameter_key_and_type(self) -> tuple[str, str]:
        # The inline's parent field: the parameter with the key and type just chosen on its form.
        parameter = self.cleaned_data.get("parameter")
        return (parameter.key, parameter.value_type) if parameter is not None else ("", "")


class ConfigStyles:
    css = {"all": ["ai_scripts/admin.css"]}


class ConfigRuleInline(admin.TabularInline):
    model = ConfigRule
    form = ConfigRuleForm
    extra = 0
    verbose_name_plural = "Rules (tried by position; the first whose conditions all hold gives the value)"


@admin.register(ConfigParameter)
class ConfigParameterAdmin(admin.ModelAdmin):
    """The draft. Saving changes nothing apps see: Publish does."""

    form = ConfigParameterForm
    inlines = [ConfigRuleInline]
    list_display = ["key", "value_type", "default", "rule_count", "description"]
    list_filter = ["value_type"]
    search_fields = ["key", "description"]
    change_list_template = "admin/ai_scripts/configparameter/change_list.html"
    Media = ConfigStyles

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rules")

    @admin.display(description="Default")
    def default(self, parameter):
        text = value_text(parameter.default_value)
        return text if len(text) <= 60 else text[:59] + "…"

    @admin.display(description="Rules")
    def rule_count(self, parameter):
        return len(parameter.rules.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        messages.info(request, "Saved to the draft: apps receive it once the configuration is published.")

    def changelist_view(self, request, extra_context=None):
        live = ConfigVersion.objects.order_by("-number").first()
        draft = _draft_or_none()
        published = live.document if live else app_config.EMPTY_DOCUMENT
        draft_differs = draft is None or not app_config.documents_equal(published, draft)
        return super().changelist_view(
            request, {**(extra_context or {}), "live": live, "draft_differs": draft_differs}
        )

    def get_urls(self):
        views = [
            path("publish/", self.admin_site.admin_view(self.publish_view), name="ai_scripts_config_publish"),
            path("preview/", self.admin_site.admin_view(self.preview_view), name="ai_scripts_config_preview"),
        ]
        return [*views, *super().get_urls()]

    def publish_view(self, request):
        """Shows what changes against the published version (GET), then publishes (POST)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        live = ConfigVersion.objects.order_by("-number").first()
        if request.method == "POST":
            try:
                version = config_services.config_publish(
                    published_by=request.user, note=request.POST.get("note", "")[:200]
                )
            except app_config.DocumentError as error:
                self.message_user(request, f"Not published: {error}", messages.ERROR)
                return redirect("admin:ai_scripts_configparameter_changelist")
            if version is None:
                self.message_user(request, "Nothing to publish: the draft equals the published version.")
            else:
                self.message_user(request, f"Published version {version.number}: apps receive it now.")
            return redirect("admin:ai_scripts_configversion_changelist")
        try:
            draft, problem = app_config.document_check(config_services.config_draft_document()), None
        except app_config.DocumentError as error:
            draft, problem = None, str(error)
        published = live.document if live else app_config.EMPTY_DOCUMENT
        diff = draft and "\n".join(
            difflib.unified_diff(
                pretty_json(published).splitlines(),
                pretty_json(draft).splitlines(),
                f"published version {live.number if live else 0}",
                "draft",
                lineterm="",
            )
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Publish the app configuration?",
            "opts": self.opts,
            "live": live,
            "diff": diff,
            "problem": problem,
        }
        return TemplateResponse(request, "admin/ai_scripts/configparameter/publish.html", context)

    def preview_view(self, request):
        """What an app with the given platform, version and user would receive, from the draft
        or the published version, with the rule that gave each value."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        result = None
        if form.is_valid():
            result = form.preview()
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview the app configuration",
            "opts": self.opts,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/ai_scripts/configparameter/preview.html", context)


class PreviewForm(forms.Form):
    source = forms.ChoiceField(
        choices=[("draft", "the draft"), ("published", "the published version")], initial="draft"
    )
    platform = forms.CharField(
        required=False, max_length=100, help_text=f"As X-Platform: {', '.join(app_config.PLATFORMS)}."
    )
    app_version = forms.CharField(
        label="App version", required=False, max_length=100, help_text="As X-App-Version, e.g. 2.1.0."
    )
    user = forms.EmailField(
        label="Signed-in user",
        required=False,
        help_text="The email of the user whose app asks; empty for an app without a token.",
    )

    def clean_user(self):
        email = self.cleaned_data["user"]
        if not email:
            return None
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise ValidationError("No user has this email.")
        return user

    def preview(self) -> dict:
        data = self.cleaned_data
        if data["source"] == "published":
            config = config_services.config_live()
        else:
            try:
                document = app_config.document_check(config_services.config_draft_document())
            except app_config.DocumentError as error:
                self.add_error(None, f"The draft cannot be published as it is: {error}")
                return None
            config = app_config.Config.from_document(document, number=0)
        client = app_config.Client.from_headers(
            platform=data["platform"],
            app_version=data["app_version"],
            user_id=data["user"].pk if data["user"] else None,
        )
        return {
            "client": client,
            "answer": pretty_json(config.answer(client)),
            "rows": [
                (key, value_text(value), f"rule {rule}" if rule else "default")
                for key, (value, rule) in config.resolve(client).items()
            ],
        }


@admin.register(ConfigVersion)
class ConfigVersionAdmin(ReadOnlyModelAdmin):
    """Every published configuration, newest first; any of them can be published again."""

    list_display = ["number", "published_at", "published_by", "note", "rollback"]
    list_select_related = ["published_by"]
    fields = ["number", "published_at", "published_by", "note", "configuration", "rollback"]
    readonly_fields = fields
    Media = ConfigStyles

    def get_queryset(self, request):
        newest = ConfigVersion.objects.order_by("-number").values("number")[:1]
        return super().get_queryset(request).annotate(newest_number=Subquery(newest))

    @admin.display(description="Configuration")
    def configuration(self, version):
        document = pretty_json(version.document)
        return format_html('<pre class="json-box">{}</pre>', document)

    @admin.display(description="Roll back")
    def rollback(self, version):
        if version.number == version.newest_number:
            return "Apps receive this version"
        url = reverse("admin:ai_scripts_configversion_rollback", args=[version.pk])
        return format_html('<a href="{}">Publish this version again…</a>', url)

    def get_urls(self):
        rollback = path(
            "<int:version_id>/rollback/",
            self.admin_site.admin_view(self.rollback_view),
            name="ai_scripts_configversion_rollback",
        )
        return [rollback, *super().get_urls()]

    def rollback_view(self, request, version_id):
        """Asks for confirmation (GET), then publishes the version again (POST)."""
        version = get_object_or_404(ConfigVersion.objects.select_related("published_by"), pk=version_id)
        if not request.user.has_perm("ai_scripts.change_configparameter"):
            raise PermissionDenied
        if request.method == "POST":
            published = config_services.config_rollback(version=version, published_by=request.user)
            if published is None:
                self.message_user(request, f"Apps receive version {version.number}'s configuration already.")
            else:
                self.message_user(
                    request,
                    f"Published version {published.number}, the configuration of version {version.number}.",
                )
            return redirect("admin:ai_scripts_configversion_changelist")
        change_url = reverse("admin:ai_scripts_configversion_change", args=[version.pk])
        by = f" by {version.published_by}" if version.published_by else ""
        note = f" ({version.note})" if version.note else ""
        changelist_url = reverse("admin:ai_scripts_configversion_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back to version {version.number}?",
            "opts": self.opts,
            "crumbs": [
                (capfirst(self.opts.verbose_name_plural), changelist_url),
                (str(version), change_url),
            ],
            "action": "Roll back",
            "explanation": "Apps will receive this configuration again: it is published as a new version. "
            "The draft becomes this configuration too; unpublished changes to the draft are dropped.",
            "record_label": f"Version {version.number}, published {version.published_at:%Y-%m-%d %H:%M:%S}"
            f"{by}{note}:",
            "content": pretty_json(version.document),
            "submit_label": "Yes, publish this version again",
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/ai_scripts/restore_confirmation.html", context)


def _draft_or_none() -> dict | None:
    """The draft as a document in the canonical form; None when it cannot be published."""
    try:
        return app_config.document_check(config_services.config_draft_document())
    except app_config.DocumentError:
        return None
