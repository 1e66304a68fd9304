"""Check the audit trail's keyed hash chain and its head against the signed checkpoints; exit 1 and
name the first broken entry if it is not intact."""

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
        head = (
            f"; the head matches the signed checkpoint of entry {result.checkpoint.id} ({result.checkpoint.at})"
            if result.checkpoint
            else "; no signed checkpoint found to compare the head with"
        )
        self.stdout.write(f"Audit trail intact: {result.checked} entries verified{head}.")
        if result.invalid_checkpoints:
            self.stderr.write(
                f"Warning: {result.invalid_checkpoints} line(s) of the checkpoint file fail their signature "
                "(edited, or signed with a key no longer configured)."
            )
