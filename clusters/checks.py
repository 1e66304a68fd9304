"""System checks: prerequisites an operator should hear about at start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


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
