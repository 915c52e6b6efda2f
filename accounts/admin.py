from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm

from accounts.models import User
from accounts.services import token_families_revoke, users_deactivate


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
    list_display = ["email", "is_active", "is_staff", "created_at", "last_sync", "device_count"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email"]
    ordering = ["-created_at"]
    readonly_fields = ["created_at", "last_login", "last_sync", "device_count"]
    actions = ["deactivate"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Activity", {"fields": ["created_at", "last_login", "last_sync", "device_count"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            token_families_revoke(user=obj)

    @admin.action(description="Deactivate selected users (their tokens stop working)")
    def deactivate(self, request, queryset):
        count = users_deactivate(users=queryset)
        self.message_user(request, f"Deactivated {count} user(s).")
