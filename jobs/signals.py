"""What other apps may react to without the jobs app knowing them."""

from django.dispatch import Signal

# Sent once when a job reaches its final state, with ``job`` (its row, refreshed).
job_finished = Signal()
