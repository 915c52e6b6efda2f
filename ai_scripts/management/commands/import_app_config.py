from django.core.management.base import BaseCommand, CommandError

from ai_scripts import app_config, config_services
from ai_scripts.management.files import json_read


class Command(BaseCommand):
    help = (
        "Publishes the app configuration in a JSON file (as export_app_config writes) as a new version, "
        "and makes it the admin's draft. All or nothing: an invalid file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the JSON file")
        parser.add_argument("--note", default="", help="kept with the version in the history")
        parser.add_argument("--dry-run", action="store_true", help="check and report, change nothing")

    def handle(self, *args, file, note, dry_run, **options):
        document = json_read(file)
        try:
            version = config_services.config_import(
                document=document, note=note[:200] or f"Imported from {file}"[:200], dry_run=dry_run
            )
        except app_config.DocumentError as error:
            raise CommandError(f"{file}: {error} Nothing was changed.") from None
        if version is None:
            self.stdout.write("Unchanged: apps receive this configuration already.")
        elif dry_run:
            self.stdout.write(f"Dry run, nothing changed: would have published version {version.number}.")
        else:
            self.stdout.write(f"Published version {version.number}.")
