import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ai_scripts.usage import requests_prune


class Command(BaseCommand):
    help = (
        "Deletes the AI relay's per-request records older than --days (90); the daily usage that "
        "budgets and `ai_usage` totals read is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="records to keep, in days (default 90)")
        parser.add_argument("--dry-run", action="store_true", help="only report what would be deleted")

    def handle(self, *args, days, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - datetime.timedelta(days=days)
        deleted = requests_prune(older_than=cutoff, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {deleted} AI request record(s) from before {cutoff:%Y-%m-%d %H:%M} UTC.")
