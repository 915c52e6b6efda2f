from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sync.services import sync_statuses_deactivate_stale


class Command(BaseCommand):
    help = (
        "Deactivates devices whose last accepted sync report is older than --days days, keeping "
        "each user's device_count right. Their tokens stay valid: a device that reports again "
        "is reactivated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="not synced for this many days")
        parser.add_argument("--dry-run", action="store_true", help="only list the devices")

    def handle(self, *args, days, dry_run, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        devices = sync_statuses_deactivate_stale(
            synced_before=timezone.now() - timedelta(days=days), dry_run=dry_run
        )
        for device in devices:
            self.stdout.write(
                f"{device.user.email}  {device.device_id}  last synced {device.synced_at.isoformat()}"
            )
        verb = "Would deactivate" if dry_run else "Deactivated"
        self.stdout.write(f"{verb} {len(devices)} device(s) not synced for {days} day(s).")
