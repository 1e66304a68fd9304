"""Login, throttling, session rotation, idle timeout, roles and the audit of each."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from audit.models import AuditEntry


def test_it_signs_in_and_rotates_the_session_id(client, operator):
    client.get("/login/")
    before = client.cookies.get("sessionid")
    response = client.post("/login/", {"username": operator.username, "password": "oscar-operator-password-123"})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after and (before is None or before.value != after)
    assert AuditEntry.objects.filter(
        action="accounts.login", outcome="succeeded", actor_name=operator.username
    ).exists()


def test_it_audits_a_failed_login_and_locks_out_after_repeated_failures(client, operator):
    for _ in range(5):
        response = client.post("/login/", {"username": operator.username, "password": "wrong"})
    assert AuditEntry.objects.filter(action="accounts.login", outcome="failed", target=operator.username).count() >= 4
    # even the right password is refused now
    response = client.post("/login/", {"username": operator.username, "password": "oscar-operator-password-123"})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert AuditEntry.objects.filter(action="accounts.lockout", outcome="denied").exists()


@override_settings(SESSION_IDLE_TIMEOUT=60)
def test_it_signs_out_an_idle_session(client, viewer, monkeypatch):
    client.force_login(viewer)
    assert client.get("/clusters/").status_code == 200
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    response = client.get("/clusters/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_roles_hold_named_operation_permissions(db):
    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()} for g in Group.objects.all()
    }
    assert perms["Requester"] == {
        "clusters.view_cluster",
        "jobs.view_job",
        "selfservice.request_change",
        "monitoring.explain_query",
    }
    assert perms["Viewer"] == perms["Requester"] | {"clusters.view_all_clusters", "monitoring.view_monitoring"}
    assert {"monitoring.cancel_session", "monitoring.terminate_session"} <= perms["Operator"]
    assert "monitoring.reset_stats" not in perms["Operator"] and "selfservice.decide_change" not in perms["Operator"]
    assert {"monitoring.reset_stats", "selfservice.decide_change"} <= perms["Admin"]
    assert "clusters.test_connection" in perms["Operator"] and "clusters.manage_cluster" not in perms["Operator"]
    assert {"clusters.manage_cluster", "clusters.create_extension", "accounts.manage_users"} <= perms["Admin"]
    assert perms["Auditor"] == {"audit.view_audit"}


def test_create_admin_command_is_idempotent(db, capsys):
    from django.core.management import call_command

    call_command("create_admin", "--username", "root-admin")
    first = capsys.readouterr().out
    assert "Password (shown once)" in first
    call_command("create_admin", "--username", "root-admin")
    assert "already exists" in capsys.readouterr().out
    from django.contrib.auth.models import User

    user = User.objects.get(username="root-admin")
    assert user.groups.filter(name="Admin").exists() and not user.is_superuser


def test_admin_creates_a_user_with_a_role(client, admin):
    client.force_login(admin)
    response = client.post(
        "/users/", {"username": "newbie", "password": "a-long-enough-passphrase", "role": "Operator"}
    )
    assert response.status_code == 302
    from django.contrib.auth.models import User

    assert User.objects.get(username="newbie").groups.get().name == "Operator"
    entry = AuditEntry.objects.get(action="accounts.create_user")
    assert entry.outcome == "succeeded" and "a-long-enough-passphrase" not in str(entry.parameters)


def _run_settings(env_extra: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "citusadmin.settings", **env_extra}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CITUSADMIN_PROBE_INTERVAL_SECONDS", "often"),
        ("CITUSADMIN_DEBUG", "maybe"),
        ("CITUSADMIN_DATABASE_URL", "mysql://x"),
        ("CITUSADMIN_CITUS_POOL_MAX_SIZE", "0"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(variable, value):
    result = _run_settings({variable: value}, "import django; django.setup()")
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    result = _run_settings(
        {
            "CITUSADMIN_HTTPS": "true",
            "CITUSADMIN_DEBUG": "false",
            "CITUSADMIN_VAR_DIR": str(tmp_path),
            "CITUSADMIN_ALLOWED_HOSTS": "citusadmin.example.com",
        },
        "import django, sys; django.setup(); from django.core.management import call_command;"
        " call_command('check', '--deploy', '--fail-level', 'WARNING')",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_email_settings_build_an_smtp_mailer_and_keep_the_password_out_of_sight(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-smtp\n")
    result = _run_settings(
        {
            "CITUSADMIN_HTTPS": "true",
            "CITUSADMIN_DEBUG": "false",
            "CITUSADMIN_VAR_DIR": str(tmp_path),
            "CITUSADMIN_ALLOWED_HOSTS": "citusadmin.example.com",
            "CITUSADMIN_EMAIL_HOST": "smtp.example.com",
            "CITUSADMIN_EMAIL_USER": "console",
            "CITUSADMIN_EMAIL_PASSWORD_FILE": str(secret),
        },
        "import django; django.setup(); from django.conf import settings; from django.core.management import"
        " call_command; o = settings.MAILERS['default']['OPTIONS'];"
        " print(settings.NOTIFY_BY_EMAIL, o['host'], o['port'], o['username'], o['password'] == 's3cret-smtp');"
        " call_command('check', '--deploy', '--fail-level', 'WARNING')",
    )
    assert result.returncode == 0, result.stderr
    assert "True smtp.example.com 587 console True" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


def test_an_empty_post_deactivates_nobody(client, admin, viewer):
    client.force_login(admin)
    response = client.post(f"/users/{viewer.pk}/active/", follow=True)
    viewer.refresh_from_db()
    assert viewer.is_active and "Say whether the account should be active" in response.content.decode()
    client.post(f"/users/{viewer.pk}/active/", {"active": "0"})
    viewer.refresh_from_db()
    assert not viewer.is_active


def test_the_console_folder_is_made_private_and_checked(tmp_path):
    """var/ held a 0644 database in a 0755 folder: any local account could read sessions and hashes."""
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "citusadmin.sqlite3").write_text("x")
    (var / "citusadmin.sqlite3").chmod(0o644)
    var.chmod(0o755)
    result = _run_settings(
        {"CITUSADMIN_VAR_DIR": str(var)},
        "import django; django.setup(); from django.core.management import call_command; call_command('check')",
    )
    assert result.returncode == 0, result.stderr
    assert var.stat().st_mode & 0o777 == 0o700
    assert (var / "citusadmin.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (var / "secret_key").stat().st_mode & 0o077 == 0


def test_a_folder_that_cannot_be_made_private_stops_start_up(tmp_path):
    from django.test import override_settings

    from clusters.checks import var_dir_private

    var = tmp_path / "shared"
    var.mkdir()
    var.chmod(0o755)
    with override_settings(VAR_DIR=var):
        (error,) = var_dir_private(None)
    assert error.id == "citusadmin.E010" and "755" in error.msg
