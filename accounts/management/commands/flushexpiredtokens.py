from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import TokenFamily


class Command(BaseCommand):
    help = "Deletes token families whose refresh tokens have all expired."

    def handle(self, *args, **options):
        deleted, _ = TokenFamily.objects.filter(expires_at__lt=timezone.now()).delete()
        self.stdout.write(f"Deleted {deleted} expired token families.")
