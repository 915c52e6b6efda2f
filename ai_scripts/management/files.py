"""JSON files for the import and export commands (AI scripts, app configuration)."""

import json

from django.core.management.base import BaseCommand, CommandError


def json_read(file: str):
    """The JSON in the file; a CommandError naming the file when it cannot be read or parsed."""
    try:
        with open(file, encoding="utf-8") as source:
            return json.load(source)
    except OSError as error:
        raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CommandError(f"{file} is not valid JSON: {error}.") from None


def json_write(command: BaseCommand, data, file: str | None) -> None:
    """Writes the data to the file, or to the command's standard output when there is none.
    Sorted keys keep the output stable, so exports diff cleanly in version control."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    if file is None:
        command.stdout.write(text)
        return
    with open(file, "w", encoding="utf-8") as target:
        target.write(text + "\n")
    command.stdout.write(f"Wrote {file}.")
