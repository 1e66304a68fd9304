"""Login, logout and user management."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import actions
from accounts.forms import ClusterAccessForm, NewUserForm, RoleForm
from accounts.models import ApiToken
from accounts.roles import REQUESTER
from citusadmin.params import parse_int
from citusadmin.permissions import check, require_perm
from citusadmin.perms import Perm
from clusters.models import Cluster, ClusterAccess


@require_http_methods(["GET", "POST"])
@require_perm(Perm.MANAGE_USERS)
def user_list(request: HttpRequest) -> HttpResponse:
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = actions.do_create_user(
            request.user, form.cleaned_data["username"], form.cleaned_data["password"], form.cleaned_data["role"]
        )
        messages.success(request, f"User {user.username} created as {form.cleaned_data['role']}.")
        return redirect("accounts:users")
    users = User.objects.order_by("username").prefetch_related(
        Prefetch("groups", queryset=Group.objects.only("name")),
        Prefetch(
            "cluster_grants", queryset=ClusterAccess.objects.select_related("cluster").only("user_id", "cluster__name")
        ),
    )
    return render(
        request,
        "accounts/users.html",
        {
            "users": users,
            "form": form,
            "role_form": RoleForm(),
            "clusters": Cluster.objects.only("id", "name"),
            "requester": REQUESTER,
        },
    )


@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_clusters(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = ClusterAccessForm(request.POST)
    if form.is_valid():
        chosen = list(form.cleaned_data["clusters"])
        actions.do_set_clusters(request.user, user, chosen)
        names = ", ".join(c.name for c in chosen) or "none"
        messages.success(request, f"{user.username} now sees these clusters: {names}.")
    else:
        messages.error(request, "Choose clusters from the list.")
    return redirect("accounts:users")


@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_role(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        actions.do_set_role(request.user, user, form.cleaned_data["role"])
        messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    else:
        messages.error(request, "Choose a role.")
    return redirect("accounts:users")


@require_POST
@require_perm(Perm.MANAGE_USERS)
def user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    choice = request.POST.get("active")
    if choice not in ("0", "1"):  # an empty or odd POST must never deactivate anyone
        messages.error(request, "Say whether the account should be active (active=1) or not (active=0).")
        return redirect("accounts:users")
    active = choice == "1"
    try:
        actions.do_set_active(request.user, user, active)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.username} {'activated' if active else 'deactivated'}.")
    return redirect("accounts:users")


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    """API tokens: your own (create, shown once; revoke), or, for an Admin, anyone's (revoke)."""
    owner = request.user if user_id is None else get_object_or_404(User, pk=user_id)
    own = owner.pk == request.user.pk
    if not own:
        check(request, Perm.MANAGE_USERS)  # 403, and a refused POST is audited
    created = None
    if request.method == "POST":
        revoke = parse_int(request.POST.get("revoke", ""))
        if revoke is not None:
            token = get_object_or_404(ApiToken, pk=revoke, user_id=owner.pk or 0)
            actions.do_revoke_token(request.user, token)
            messages.success(request, f"Token {token.name} ({token.prefix}…) is revoked: it stops working now.")
            return redirect(request.path)
        if not own:
            raise PermissionDenied("Only its owner creates a token.")
        days = parse_int(request.POST.get("days", ""), 90) or 90
        token_row, created = actions.do_create_token(
            request.user, request.POST.get("name", ""), request.POST.get("scope", "read"), days
        )
        messages.success(request, f"Token {token_row.name} created. Copy it now: it is shown only once.")
    rows = ApiToken.objects.filter(user_id=owner.pk or 0).order_by("-id")[:100]
    return render(
        request,
        "accounts/tokens.html",
        {"owner": owner, "own": own, "tokens": rows, "created": created, "now": timezone.now()},
    )
