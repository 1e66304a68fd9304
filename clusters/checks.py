"""System checks: prerequisites an operator should hear about at start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def broker_reachable(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if not settings.REDIS_URL:
        return []
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.exceptions.ResponseError:
        return []  # CONFIG may be disabled on managed Redis; the ping succeeded
    except redis.exceptions.RedisError as exc:
        return [
            Warning(
                f"Redis at CITUSADMIN_REDIS_URL is not reachable: {exc}",
                hint="Jobs cannot start until the broker answers.",
                id="citusadmin.W001",
            )
        ]
    if policy and policy != "noeviction":
        return [
            Warning(
                f"Redis maxmemory-policy is {policy!r}; queued jobs could be evicted.",
                hint="Set maxmemory-policy noeviction on the broker.",
                id="citusadmin.W002",
            )
        ]
    return []


@register(Tags.security)
def var_dir_private(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The console's folder holds its database (sessions, password hashes), keys, logs and the broker's
    messages. Owned by the console's user and mode 0700, nothing inside is readable by anyone else."""
    import os
    from pathlib import Path

    var_dir = Path(settings.VAR_DIR)
    try:
        st = var_dir.stat()
    except OSError:
        return []
    problems = []
    if st.st_mode & 0o077:
        problems.append(f"it is mode {st.st_mode & 0o777:o}")
    if st.st_uid != os.getuid():
        problems.append(f"it belongs to another user (uid {st.st_uid})")
    if not problems:
        return []
    return [
        Error(
            f"The console's folder {var_dir} (CITUSADMIN_VAR_DIR) is not private: " + "; ".join(problems),
            hint=f"chmod 700 {var_dir} and chown it to the user that runs the console.",
            id="citusadmin.E010",
        )
    ]
