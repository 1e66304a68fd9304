"""A real etcd + Patroni + Citus cluster (tests/patroni_cluster.py), started once per session, and its
registration in the console. Skipped with the reason when Citus, etcd or Patroni is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.patroni_cluster import PatroniCluster, patroni_available, start_patroni_cluster


@pytest.fixture(scope="session")
def patroni_cluster() -> Iterator[PatroniCluster]:
    ok, why = patroni_available()
    if not ok:
        pytest.skip(f"no Patroni-managed cluster: {why}")
    cluster = start_patroni_cluster()
    try:
        yield cluster
    finally:
        from citusadmin.citus.connection import close_pools

        close_pools()
        cluster.stop()


@pytest.fixture
def patroni_row(db: None, patroni_cluster: PatroniCluster) -> Any:
    """The Patroni cluster registered as a DBA would: both coordinator members, the DCS and scope."""
    from clusters.models import Cluster

    first, second = patroni_cluster.group_members(0)
    cluster = Cluster(
        name="ha",
        host="127.0.0.1",
        port=first.port,
        other_hosts=f"127.0.0.1:{second.port}",
        dbname="citus",
        user="postgres",
        sslmode="prefer",
        patroni_etcd=patroni_cluster.etcd_url,
        patroni_scope=patroni_cluster.scope,
    )
    cluster.set_password("postgres-secret")
    cluster.save()
    return cluster
