"""Patroni answers and settings parsed without a cluster: odd keys and digits are skipped, never a 500."""

from __future__ import annotations

import base64
import json
from unittest import mock

from citusadmin.citus import patroni


def _kv(key: str, value: str) -> dict[str, str]:
    return {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}


def test_dcs_keys_with_non_ascii_digits_are_skipped():
    member = json.dumps(
        {
            "conn_url": "postgres://10.0.0.1:5432/postgres",
            "api_url": "http://10.0.0.1:8008/patroni",
            "state": "running",
            "role": "primary",
            "version": "4.1.5",
            "timeline": 1,
        }
    )
    body = json.dumps(
        {
            "kvs": [
                _kv("/service/s/0/leader", "a"),
                _kv("/service/s/0/members/a", member),
                _kv("/service/s/²/leader", "b"),
                _kv("/service/s/٣/members/b", member),
            ]
        }
    ).encode()
    access = patroni.Access(etcd=("http://127.0.0.1:1",), scope="s")
    with mock.patch.object(patroni, "_request", return_value=(200, body)):
        topology = patroni.read(access)
    assert [g.group for g in topology.groups] == [0] and topology.groups[0].leader_member.name == "a"


def test_rest_urls_ignore_non_ascii_group_numbers():
    from clusters.models import Cluster

    cluster = Cluster(patroni_rest="0 http://a:8008\n² http://b:8008\n1 http://c:8008")
    assert cluster.rest_urls() == {0: ["http://a:8008"], 1: ["http://c:8008"]}
