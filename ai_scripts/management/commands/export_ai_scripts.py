import json

from django.core.management.base import BaseCommand

from ai_scripts import services


class Command(BaseCommand):
    help = "Writes every AI script as JSON that import_ai_scripts reads back (to FILE, or standard output)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path to write; standard output when left out")

    def handle(self, *args, file, **options):
        # Sorted names and keys keep the output stable, so exports diff cleanly in version control.
        text = json.dumps(services.scripts_export(), indent=2, sort_keys=True, ensure_ascii=False)
        if file is None:
            self.stdout.write(text)
            return
        with open(file, "w", encoding="utf-8") as target:
            target.write(text + "\n")
        self.stdout.write(f"Wrote {file}.")
