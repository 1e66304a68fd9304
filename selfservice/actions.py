"""Asking for a change, deciding on it, withdrawing it. Every step is in the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.actions import audited, ensure_permission, record
from audit.models import AuditEntry
from audit.names import Action
from citusadmin.citus import errors
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster
from jobs.actions import do_start_job
from selfservice import notify, plans
from selfservice.models import ChangeRequest


class OwnRequest(errors.Refused):
    """Four eyes: the requester cannot decide on their own request."""


def _url(request: ChangeRequest) -> str:
    return reverse("selfservice:detail", args=[request.pk])


def do_submit(
    actor: Actor, cluster: Cluster, kind: str, params: dict[str, Any], reason: str, plan: plans.Plan
) -> ChangeRequest:
    """Saved even when the pre-check fails (it cannot be approved until it passes again)."""
    with audited(
        actor,
        Action.REQUEST_CHANGE,
        perm=Perm.REQUEST_CHANGE,
        cluster=cluster,
        target=plan.target,
        parameters={"kind": kind, **params, "checks_pass": plan.ok},
    ) as entry:
        change = ChangeRequest.objects.create(
            cluster=cluster,
            kind=kind,
            target=plan.target,
            parameters=params,
            statement=plan.statement,
            reason=reason,
            problems=plan.problems,
            warnings=plan.warnings,
            checked_at=timezone.now(),
            requested_by=cast("User", actor),  # audited() refused an anonymous one
            requested_by_name=actor.get_username(),
        )
        entry.result = f"request {change.pk}"
    notify.notify(
        notify.deciders(exclude=actor),
        f"{actor.get_username()} asks: {change.get_kind_display()} {change.target} on {cluster.name}"
        + ("" if plan.ok else " (pre-check fails)"),
        _url(change),
    )
    return change


def do_recheck(actor: Actor, change: ChangeRequest) -> plans.Plan:
    """Run the pre-check again on the cluster as it is now and store what it says."""
    plan = plans.plan(change.cluster, change.kind, change.parameters)
    ChangeRequest.objects.filter(pk=change.pk).update(
        problems=plan.problems, warnings=plan.warnings, checked_at=timezone.now()
    )
    change.refresh_from_db()
    return plan


def _four_eyes(actor: Actor, change: ChangeRequest, action: str) -> None:
    ensure_permission(actor, Perm.DECIDE_CHANGE, action=action, cluster=change.cluster, target=change.target)
    if change.requested_by_id == actor.pk:
        record(
            actor,
            action,
            AuditEntry.Outcome.DENIED,
            cluster=change.cluster,
            target=change.target,
            parameters={"request": change.pk},
            error="the requester cannot decide on their own request (four eyes)",
        )
        raise OwnRequest("You asked for this change: another Admin must decide on it (four eyes).")


def do_approve(actor: Actor, change: ChangeRequest, comment: str) -> ChangeRequest:
    _four_eyes(actor, change, Action.APPROVE)
    with audited(
        actor,
        Action.APPROVE,
        perm=Perm.DECIDE_CHANGE,
        cluster=change.cluster,
        target=change.target,
        parameters={"request": change.pk, "requested_by": change.requested_by_name, "comment": comment},
        atomic=False,
    ) as entry:
        # claim it: two Admins clicking at once start one job
        with transaction.atomic():
            claimed = ChangeRequest.objects.filter(pk=change.pk, state=ChangeRequest.State.PENDING).update(
                state=ChangeRequest.State.APPROVED, decided_by=actor, decided_by_name=actor.get_username()
            )
        if not claimed:
            change.refresh_from_db()
            raise errors.Refused(f"Request {change.pk} is already {change.get_state_display()}.")
        try:
            plan = do_recheck(actor, change)
            if not plan.ok:
                raise errors.Refused(
                    "The pre-check fails on the cluster as it is now, so it cannot be approved: "
                    + " ".join(plan.problems)
                )
            if plan.statement != change.statement:
                raise errors.Refused(
                    "The cluster changed since the request: the SQL would now be "
                    f"{plan.statement!r} instead of {change.statement!r}. Ask the requester to submit it again."
                )
            job = do_start_job(
                change.requested_by or actor,
                change.cluster,
                plan.job_kind,
                plan.job_parameters,
                target=plan.target,
                approved_by=actor,
            )
        except Exception:
            ChangeRequest.objects.filter(pk=change.pk).update(
                state=ChangeRequest.State.PENDING, decided_by=None, decided_by_name=""
            )
            raise
        entry.job_id = job.pk
        entry.result = f"job {job.pk} started"
        ChangeRequest.objects.filter(pk=change.pk).update(job=job, decided_at=timezone.now(), comment=comment)
    change.refresh_from_db()
    notify.notify(
        [change.requested_by],
        f"Request {change.pk} approved by {actor.get_username()}: job {job.pk} runs "
        f"{change.get_kind_display().lower()} {change.target}." + (f" Comment: {comment}" if comment else ""),
        _url(change),
    )
    return change


def do_reject(actor: Actor, change: ChangeRequest, comment: str) -> ChangeRequest:
    _four_eyes(actor, change, Action.REJECT)
    with audited(
        actor,
        Action.REJECT,
        perm=Perm.DECIDE_CHANGE,
        cluster=change.cluster,
        target=change.target,
        parameters={"request": change.pk, "requested_by": change.requested_by_name, "comment": comment},
    ):
        if not comment.strip():
            raise errors.Refused("Say why in the comment: the requester reads it.")
        updated = ChangeRequest.objects.filter(pk=change.pk, state=ChangeRequest.State.PENDING).update(
            state=ChangeRequest.State.REJECTED,
            decided_by=actor,
            decided_by_name=actor.get_username(),
            decided_at=timezone.now(),
            comment=comment,
        )
        if not updated:
            change.refresh_from_db()
            raise errors.Refused(f"Request {change.pk} is already {change.get_state_display()}.")
    change.refresh_from_db()
    notify.notify(
        [change.requested_by],
        f"Request {change.pk} rejected by {actor.get_username()}: {comment}",
        _url(change),
    )
    return change


def do_withdraw(actor: Actor, change: ChangeRequest) -> None:
    if change.requested_by_id != actor.pk:
        record(
            actor,
            Action.WITHDRAW,
            AuditEntry.Outcome.DENIED,
            cluster=change.cluster,
            target=change.target,
            error="only the requester can withdraw a request",
        )
        raise errors.Refused("Only the requester can withdraw a request.")
    with audited(
        actor,
        Action.WITHDRAW,
        perm=Perm.REQUEST_CHANGE,
        cluster=change.cluster,
        target=change.target,
        parameters={"request": change.pk},
    ):
        updated = ChangeRequest.objects.filter(pk=change.pk, state=ChangeRequest.State.PENDING).update(
            state=ChangeRequest.State.WITHDRAWN, decided_at=timezone.now()
        )
        if not updated:
            raise errors.Refused(f"Request {change.pk} is no longer pending.")
