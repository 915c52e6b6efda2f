from django.core.management.base import BaseCommand

from backups.uploads import uploads_expire


class Command(BaseCommand):
    help = (
        "Deletes resumable uploads past their expiry (BACKUP_UPLOAD_EXPIRY_SECONDS) and the bytes "
        "unfinished ones hold. Run it from cron, e.g. hourly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only report what would be deleted")

    def handle(self, *args, dry_run, **options):
        count = uploads_expire(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} expired upload(s).")
