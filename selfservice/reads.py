"""Which change requests a user may see: the pages and the API ask here."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from citusadmin.perms import Perm
from clusters.lookup import may_see, sees_all_clusters, visible_clusters
from selfservice.models import ChangeRequest


def may_see_requests(user: Any) -> bool:
    return bool(user.has_perm(Perm.REQUEST_CHANGE) or user.has_perm(Perm.DECIDE_CHANGE))


def visible_requests(user: Any) -> QuerySet[ChangeRequest]:
    """Deciders see every request on the clusters they see; everyone else their own."""
    if not may_see_requests(user):
        raise PermissionDenied("You do not have the permission selfservice.request_change.")
    changes = ChangeRequest.objects.select_related("cluster", "job")
    if not user.has_perm(Perm.DECIDE_CHANGE):
        changes = changes.filter(requested_by_id=user.pk)
    if not sees_all_clusters(user):
        changes = changes.filter(cluster__in=visible_clusters(user))
    return changes


def request_for(user: Any, request_id: int) -> ChangeRequest:
    change = visible_requests(user).filter(pk=request_id).first()
    if change is None or not may_see(user, change.cluster_id):
        raise Http404("no such request")
    return change
