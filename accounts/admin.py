from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.db import transaction
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat

from accounts.models import User
from accounts.services import token_families_revoke, users_deactivate
from backups.services import backups_delete_for_user


class EmailNormalizingMixin:
    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"])


class UserCreationForm(EmailNormalizingMixin, BaseUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserEditForm(EmailNormalizingMixin, UserChangeForm):
    email = forms.EmailField()

    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = [
        "email",
        "is_active",
        "is_staff",
        "created_at",
        "last_sync",
        "device_count",
        "backup_storage",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email"]
    ordering = ["-created_at"]
    readonly_fields = ["created_at", "last_login", "last_sync", "device_count", "backup_storage"]
    actions = ["deactivate"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Activity", {"fields": ["created_at", "last_login", "last_sync", "device_count", "backup_storage"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]

    def get_queryset(self, request):
        # One aggregate in the list's query rather than one query per row.
        return super().get_queryset(request).annotate(backup_bytes=Sum("backups__data_size"))

    @admin.display(description="backup storage", ordering="backup_bytes")
    def backup_storage(self, user):
        return filesizeformat(user.backup_bytes or 0)

    def delete_model(self, request, obj):
        with transaction.atomic():
            backups_delete_for_user(user_id=obj.pk)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user_id in queryset.values_list("pk", flat=True):
                backups_delete_for_user(user_id=user_id)
            super().delete_queryset(request, queryset)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            token_families_revoke(user=obj)

    @admin.action(description="Deactivate selected users (their tokens stop working)")
    def deactivate(self, request, queryset):
        count = users_deactivate(users=queryset)
        self.message_user(request, f"Deactivated {count} user(s).")
