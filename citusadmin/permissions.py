"""The one permission check for views: named operations, checked on the server, denials audited.

``require_perm(Perm.X)`` for a view that always needs one permission; ``require_perm(chooser)`` where
the operation (and so the permission) depends on the request, ``chooser(request, **view_kwargs)``
returning the ``Perm``. A name that is not a declared ``Perm`` fails at import, not at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase as HttpResponse

from citusadmin.perms import Perm

Chooser = Callable[..., Perm]


def _as_perm(perm: Perm | str) -> Perm:
    try:
        return Perm(perm)
    except ValueError:
        raise ImproperlyConfigured(f"{perm!r} is not a permission declared in citusadmin.perms.Perm") from None


def check(request: HttpRequest, perm: Perm, cluster_id: Any = None) -> None:
    """Refuse (403) a user without ``perm``; a refused change (not GET) leaves an audit entry."""
    if request.user.has_perm(perm):
        return
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from audit.actions import record_denied
        from clusters.models import Cluster

        cluster = Cluster.objects.filter(pk=int(cluster_id)).first() if str(cluster_id).isdecimal() else None
        record_denied(request.user, perm, cluster=cluster, target=request.path)
    raise PermissionDenied(f"You do not have the permission {perm}.")


def require_perm(perm: Perm | str | Chooser) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    fixed = None if callable(perm) and not isinstance(perm, str) else _as_perm(perm)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            needed = fixed if fixed is not None else _as_perm(perm(request, **kwargs))  # type: ignore[operator]
            check(request, needed, kwargs.get("cluster_id"))
            return view(request, *args, **kwargs)

        wrapper.required_permission = fixed or perm  # type: ignore[attr-defined]
        return wrapper

    return decorator
