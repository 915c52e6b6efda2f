from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backups.payload_move import payloads_move

WITH_COLUMN = ("backups", "0002_payloads_in_storage")
WITHOUT_COLUMN = ("backups", "0003_drop_payload_column")


class Command(BaseCommand):
    help = (
        "Moves backup payloads from the database column to storage (BACKUP_S3_BUCKET or "
        "BACKUP_STORAGE_DIR). Run it with the schema at `migrate backups 0002`; it can be "
        "stopped and run again. `migrate` then drops the column (moving anything left first)."
    )

    def handle(self, *args, **options):
        executor = MigrationExecutor(connection)
        applied = executor.loader.applied_migrations
        if WITHOUT_COLUMN in applied:
            self.stdout.write("Nothing to move: every payload is in storage and the column is gone.")
            return
        if WITH_COLUMN not in applied:
            raise CommandError("Run `manage.py migrate backups 0002` first, then this command.")
        # The model as the schema is now, with its encrypted_data column.
        state = executor.loader.project_state(WITH_COLUMN)
        model = state.apps.get_model("backups", "UserBackup")

        def progress(moved, total, mismatched):
            self.stdout.write(f"Moved {moved} of {total} payload(s).")

        moved, mismatched = payloads_move(model, progress=progress)
        self.stdout.write(f"Done: {moved} payload(s) moved to storage.")
        if mismatched:
            self.stderr.write(
                f"{mismatched} of them did not match their stored checksum (moved as they were): "
                "those backups were damaged before the move."
            )
