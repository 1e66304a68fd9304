"""Celery wiring against a real Redis and a real worker process."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from clusters.models import Cluster, ClusterProbe

pytestmark = pytest.mark.broker


def test_a_real_worker_runs_the_periodic_probe(celery_worker_process, citus):
    params = citus.params
    cluster = Cluster.objects.create(
        name="probed",
        host=params["host"],
        port=int(params["port"]),
        dbname=params.get("dbname", "postgres"),
        user=params.get("user", ""),
        sslmode=params.get("sslmode", "prefer"),
    )
    celery_worker_process.send("clusters.tasks.probe_all_clusters")
    deadline = time.monotonic() + 30
    while not ClusterProbe.objects.filter(cluster=cluster).exists():
        assert time.monotonic() < deadline, celery_worker_process.log.read_text()[-3000:]
        time.sleep(0.2)
    probe = ClusterProbe.objects.get(cluster=cluster)
    assert probe.ok and probe.worker_count == 2 and probe.citus_version


def test_the_broker_settings_do_not_lose_or_repeat_work():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is False
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_TIME_LIMIT < 3600  # below the Redis visibility timeout
    assert "probe-clusters" in settings.CELERY_BEAT_SCHEDULE
