import argparse
import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from ai_scripts.usage import GROUPINGS, usage_report

FIGURES = {
    "requests": "requests",
    "failed": "failed",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
    "total_tokens": "total tokens",
    "avg_latency_ms": "avg latency ms",
}


def day(value: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day like 2025-01-31.") from None


class Command(BaseCommand):
    help = (
        "Prints the AI relay's requests and tokens per user and model alias over a period of UTC "
        "days (by default this month), most tokens first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=day, metavar="YYYY-MM-DD", help="the first day (default: the 1st of this month)"
        )
        parser.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="the last day (default: today)")
        parser.add_argument("--user", metavar="EMAIL", help="only this user's requests")
        parser.add_argument(
            "--by",
            choices=list(GROUPINGS),
            default="user-model",
            help="one line per user, per model alias, or per both (the default)",
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, **options):
        today = timezone.now().astimezone(datetime.UTC).date()
        since = options["since"] or today.replace(day=1)
        until = options["until"] or today
        if since > until:
            raise CommandError(f"--since ({since}) is after --until ({until}).")
        email = options["user"]
        user_id = None
        if email is not None:
            email = User.objects.normalize_email(email)
            user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
            if user_id is None:
                raise CommandError(f"No user has the email {email}.")
        report = usage_report(since=since, until=until, by=options["by"], user_id=user_id)
        if options["format"] == "json":
            period = {"since": since.isoformat(), "until": until.isoformat(), "user": email}
            self.stdout.write(json.dumps({**period, **report}, indent=2))
            return
        whose = f" of {email}" if email else ""
        if not report["rows"]:
            self.stdout.write(f"No AI relay requests{whose} from {since} to {until} (UTC).")
            return
        self.stdout.write(f"AI relay usage{whose} from {since} to {until} (UTC):")
        for line in self._table(report, list(GROUPINGS[options["by"]])):
            self.stdout.write(line)

    def _table(self, report: dict, columns: list[str]) -> list[str]:
        def cells(names: list[str], figures: dict) -> list[str]:
            numbers = [f"{figures[key]:,}" if figures[key] is not None else "—" for key in FIGURES]
            return [*names, *numbers]

        lines = [
            [*columns, *FIGURES.values()],
            *(cells([row[column] for column in columns], row) for row in report["rows"]),
            cells(["total", *[""] * (len(columns) - 1)], report["total"]),
        ]
        widths = [max(len(line[index]) for line in lines) for index in range(len(lines[0]))]
        # Names read from the left, figures line up on the right.
        return [
            "  ".join(
                cell.ljust(width) if index < len(columns) else cell.rjust(width)
                for index, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in lines
        ]
