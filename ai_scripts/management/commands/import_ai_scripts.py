from django.core.management.base import BaseCommand, CommandError

from ai_scripts import services
from ai_scripts.management.files import json_read


class Command(BaseCommand):
    help = (
        "Creates or updates AI scripts by script_name from a JSON list (as export_ai_scripts writes). "
        "All or nothing: one invalid entry changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the JSON file")
        parser.add_argument("--dry-run", action="store_true", help="check and report, change nothing")

    def handle(self, *args, file, dry_run, **options):
        entries = json_read(file)
        try:
            result = services.scripts_import(entries=entries, dry_run=dry_run)
        except services.ScriptImportError as error:
            raise CommandError(f"{file}: {error} Nothing was changed.") from None
        prefix = "Dry run, nothing changed: would have " if dry_run else ""
        created, updated, unchanged = len(result.created), len(result.updated), len(result.unchanged)
        self.stdout.write(f"{prefix}created {created}, updated {updated}, unchanged {unchanged}.")
