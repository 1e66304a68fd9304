"""Check the audit trail's hash chain; exit 1 and name the first broken entry if it is not intact."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if not result.ok:
            raise CommandError(
                f"Audit trail broken at entry {result.broken_at}: {result.reason} "
                f"({result.checked} entries intact before it)."
            )
        self.stdout.write(f"Audit trail intact: {result.checked} entries verified.")
