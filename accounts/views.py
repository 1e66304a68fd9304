"""Login, logout and user management."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import actions
from accounts.forms import ClusterAccessForm, NewUserForm, RoleForm
from accounts.roles import REQUESTER
from citusadmin.permissions import require_perm
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
