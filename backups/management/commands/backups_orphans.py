from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from backups.orphans import orphans_find


class Command(BaseCommand):
    help = (
        "Lists stored backup bytes that no backup or unfinished upload refers to (left by a crash "
        "or a failed deletion); --delete deletes them. Dry run by default."
    )

    def add_arguments(self, parser):
        parser.add_argument("--delete", action="store_true", help="delete what is found")
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=24,
            help="only objects at least this old (default 24): newer ones may be waiting for their row",
        )

    def handle(self, *args, delete, older_than_hours, **options):
        if older_than_hours < 0:
            raise CommandError("--older-than-hours must not be negative.")
        count = 0
        for orphan in orphans_find(older_than=timedelta(hours=older_than_hours)):
            what = f"{orphan.key} (unfinished multipart upload)" if orphan.multipart_id else orphan.key
            if delete:
                orphan.delete()
            self.stdout.write(f"{'Deleted' if delete else 'Orphan'}: {what}")
            count += 1
        if delete:
            self.stdout.write(f"Deleted {count} orphaned object(s).")
        else:
            self.stdout.write(f"Found {count} orphaned object(s); run with --delete to delete them.")
