from django.core.management.base import BaseCommand, CommandError

from ai_scripts import services
from ai_scripts.models import AIService


class Command(BaseCommand):
    help = "Probes every enabled AI service now (no cache); exits with 1 when any of them is down."

    def handle(self, *args, **options):
        configured = list(AIService.objects.all())
        enabled = [service for service in configured if service.enabled]
        statuses = {status["name"]: status for status in services.ai_services_probe(services=enabled)}
        if not configured:
            self.stdout.write("No AI services are configured.")
        for service in configured:
            status = statuses.get(service.name)
            if status is None:
                self.stdout.write(f"{service.name}: disabled")
            elif status["latency_ms"] is None:
                self.stdout.write(f"{service.name}: {status['status']} (no answer)")
            else:
                self.stdout.write(f"{service.name}: {status['status']} ({status['latency_ms']} ms)")
        down = [name for name, status in statuses.items() if status["status"] == "down"]
        if down:
            raise CommandError(
                f"{len(down)} of {len(enabled)} enabled AI services are down: {', '.join(down)}."
            )
