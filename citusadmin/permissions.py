"""Permission checks for views: named operations, checked on the server, denials audited."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def require_perm(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Refuse (403) a user without ``perm``; a refused POST leaves an audit entry marked denied."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    from audit.actions import record_denied
                    from clusters.models import Cluster

                    cluster = None
                    if "cluster_id" in kwargs:
                        cluster = Cluster.objects.filter(pk=kwargs["cluster_id"]).first()
                    record_denied(request.user, perm, cluster=cluster, target=request.path)
                raise PermissionDenied(f"You do not have the permission {perm}.")
            return view(request, *args, **kwargs)

        wrapper.required_permission = perm  # type: ignore[attr-defined]
        return wrapper

    return decorator
