import json

from django.core.management.base import BaseCommand

from ai_scripts import config_services


class Command(BaseCommand):
    help = (
        "Writes the published app configuration (what apps receive) as JSON that import_app_config reads "
        "back (to FILE, or standard output)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path to write; standard output when left out")

    def handle(self, *args, file, **options):
        # Sorted keys keep the output stable, so exports diff cleanly in version control.
        document = config_services.config_live_document()
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
        if file is None:
            self.stdout.write(text)
            return
        with open(file, "w", encoding="utf-8") as target:
            target.write(text + "\n")
        self.stdout.write(f"Wrote {file}.")
