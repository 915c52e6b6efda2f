from django.core.management.base import BaseCommand

from ai_scripts import config_services
from ai_scripts.management.files import json_write


class Command(BaseCommand):
    help = (
        "Writes the published app configuration (what apps receive) as JSON that import_app_config reads "
        "back (to FILE, or standard output)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path to write; standard output when left out")

    def handle(self, *args, file, **options):
        json_write(self, config_services.config_live_document(), file)
