from django.core.management.base import BaseCommand

from ai_scripts import services
from ai_scripts.management.files import json_write


class Command(BaseCommand):
    help = "Writes every AI script as JSON that import_ai_scripts reads back (to FILE, or standard output)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path to write; standard output when left out")

    def handle(self, *args, file, **options):
        json_write(self, services.scripts_export(), file)
