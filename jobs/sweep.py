"""The sweep (every few seconds, from beat): what a dead runner left.

A running job whose lease lapsed gets a new supervisor (Citus background jobs: Citus kept running
them) or is marked interrupted (blocking work died with its session). A job queued more than 30 s
ago and never started (its message lost) is published again. Each is claimed atomically, so sweeps
that piled up while the worker was away act once.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from citusadmin.broker import BrokerUnavailable, publish
from jobs.kinds import Mode, kind
from jobs.models import Job
from jobs.state import finish, lease_seconds, log, new_token


def sweep() -> dict[str, int]:
    """Re-attach supervisors whose runner died; mark dead blocking work interrupted; re-queue lost starts."""
    now = timezone.now()
    counts = {"resumed": 0, "interrupted": 0, "requeued": 0}
    lapsed = Job.objects.select_related("cluster").filter(
        state__in=[Job.State.RUNNING, Job.State.CANCELLING], lease_until__lt=now
    )
    for job in lapsed:
        spec = kind(job.kind)
        if spec.mode == Mode.BACKGROUND:
            # Claim the re-attach atomically: sweeps that piled up while the worker was away run at once,
            # and only one of them may publish (and log) it.
            recent = now - timedelta(seconds=lease_seconds())
            claimed = (
                Job.objects.filter(pk=job.pk, lease_until__lt=now)
                .filter(Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=recent))
                .update(resume_requested_at=now)
            )
            if not claimed:
                continue
            try:
                publish("jobs.tasks.supervise_job", job.pk, new_token())
            except BrokerUnavailable:
                Job.objects.filter(pk=job.pk).update(resume_requested_at=job.resume_requested_at)
                return counts
            log(job, "Its supervisor stopped; a new one re-attaches to the Citus job.", "warning")
            counts["resumed"] += 1
        else:
            finish(
                job,
                Job.State.INTERRUPTED,
                error=(
                    "The worker running this job stopped (killed or crashed). Its database session ended with it, so "
                    "Citus cancelled the statement; it will not be re-run by itself. Finished shard moves are kept: "
                    "check the placements and pg_dist_cleanup, then start it again if needed."
                ),
            )
            counts["interrupted"] += 1
    stale_queued = Job.objects.filter(state=Job.State.QUEUED, created_at__lt=now - timedelta(seconds=30)).filter(
        Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=now - timedelta(seconds=30))
    )
    for job in stale_queued:
        claimed = (
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED)
            .filter(Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=now - timedelta(seconds=30)))
            .update(resume_requested_at=now)
        )
        if not claimed:
            continue
        try:
            publish("jobs.tasks.run_job", job.pk)
        except BrokerUnavailable:
            Job.objects.filter(pk=job.pk).update(resume_requested_at=job.resume_requested_at)
            return counts
        counts["requeued"] += 1
    return counts
