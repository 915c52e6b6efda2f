from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backups.services import backups_prune


class Command(BaseCommand):
    help = "Keeps only the newest backups of every user (BACKUP_KEEP unless --keep is given)."

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=None, help="backups to keep per user")
        parser.add_argument("--dry-run", action="store_true", help="only report what would be deleted")

    def handle(self, *args, keep, dry_run, **options):
        keep = settings.BACKUP_KEEP if keep is None else keep
        if keep < 1:
            raise CommandError("--keep must be at least 1: the newest backup is never pruned.")
        deleted, users = backups_prune(keep=keep, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {deleted} backup(s) of {users} user(s), keeping the newest {keep} each.")
