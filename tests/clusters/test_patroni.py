"""Patroni-managed Citus: a real etcd and real Patroni managing real Citus (a coordinator group of two,
worker group 1 of two, worker group 2 of one). Chained on one cluster, in order: registration and the
HA page against patronictl, bad input, a worker switchover through the console (a job), then the
coordinator leader's postgres killed while the console keeps answering."""

from __future__ import annotations

import threading
import time

import pytest

from audit.models import AuditEntry
from clusters import ha
from clusters.models import Cluster
from jobs.models import Job
from tests.helpers import job_state, wait_for


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_registered_once_the_ha_page_matches_patronictl(client, admin, patroni_row, patroni_cluster):
    patroni_cluster.wait_healthy()
    client.force_login(admin)
    tested = client.post(f"/clusters/{patroni_row.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "Connected" in tested and "Patroni</strong> 4." in tested and patroni_cluster.scope in tested
    assert "3 groups" in tested
    page = _page(client, f"/c/{patroni_row.pk}/ha/")
    listed = patroni_cluster.patronictl_list()
    assert len(listed) == 5
    state = ha.read(patroni_row)
    rows = {(r["Group"], r["Member"]): r for r in ha.as_rows(state)}
    for entry in listed:
        mine = rows[(entry["Group"], entry["Member"])]
        assert (
            mine["Host"] == entry["Host"] if ":" in entry["Host"] else mine["Host"].endswith(str(entry.get("Port", "")))
        )
        assert (entry["Role"] == "Leader") == (mine["Role"] in ("leader", "primary")), (entry, mine)
        assert entry["State"] == mine["State"], (entry, mine)
        assert entry["Member"] in page
    # every group agrees with pg_dist_node: its primary row is Patroni's leader
    for group in state.groups:
        assert group.citus_primary is not None and group.leader is not None
        leader = next(r.member for r in group.members if r.member.name == group.leader)
        assert group.citus_primary.address == leader.address
        assert not [f for f in group.findings if f.level == "bad"], group.findings
    # the Nodes, Overview and Health pages work through the multi-host connection and include Patroni
    assert "127.0.0.1" in _page(client, f"/c/{patroni_row.pk}/nodes/")
    overview = _page(client, f"/c/{patroni_row.pk}/")
    assert 'id="ha-stat"' in overview and "3 groups" in overview
    health = _page(client, f"/c/{patroni_row.pk}/monitoring/health/")
    assert "Every group has a leader that pg_dist_node agrees with" in health


def test_bad_input_gets_a_clear_message(client, admin, patroni_row, patroni_cluster, settings):
    patroni_cluster.wait_healthy()
    client.force_login(admin)
    url = f"/c/{patroni_row.pk}/ha/1/switchover/"
    page = client.post(url, {"candidate": "nobody"}).content.decode()
    assert "Refused" in page and "not a member of group 1" in page
    leader = patroni_cluster.leader(1)
    page = client.post(url, {"candidate": leader}).content.decode()
    assert "already leads group 1" in page
    settings.PATRONI_LAG_WARN_BYTES = -1  # every replica counts as lagging: the console refuses it itself
    replica = next(m.name for m in patroni_cluster.group_members(1) if m.name != leader)
    page = client.post(url, {"candidate": replica, "confirm": "yes"}).content.decode()
    assert "lags" in page and not Job.objects.filter(kind="patroni_switchover").exists()
    assert client.get(f"/c/{patroni_row.pk}/ha/9/switchover/").status_code == 404
    # Patroni unreachable: the HA page says so, never a 500
    lost = Cluster.objects.create(
        name="lost", host="127.0.0.1", port=1, patroni_etcd="http://127.0.0.1:1", patroni_scope="x"
    )
    page = _page(client, f"/c/{lost.pk}/ha/")
    assert "does not answer" in page
    # a requester or viewer cannot switch over
    from tests.plugins.users import _user

    viewer = _user("vic-viewer2", "Viewer")
    client.force_login(viewer)
    assert client.post(url, {"candidate": replica, "confirm": "yes"}).status_code == 403


def test_worker_switchover_through_the_console(client, admin, patroni_row, patroni_cluster, job_worker):
    patroni_cluster.wait_healthy()
    client.force_login(admin)
    leader = patroni_cluster.leader(1)
    candidate = next(m for m in patroni_cluster.group_members(1) if m.name != leader)
    url = f"/c/{patroni_row.pk}/ha/1/switchover/"
    preview = client.post(url, {"candidate": candidate.name}).content.decode()
    assert "/switchover" in preview and f"&quot;candidate&quot;: &quot;{candidate.name}&quot;" in preview
    response = client.post(url, {"candidate": candidate.name, "confirm": "yes"})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(kind="patroni_switchover")
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 150, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", (job.error, list(job.log.values_list("message", flat=True)))
    assert candidate.name in job.summary and job.progress_done == 3
    with patroni_cluster.connect() as conn:
        port = conn.execute("SELECT nodeport FROM pg_dist_node WHERE groupid = 1 AND noderole = 'primary'").fetchone()
    assert port[0] == candidate.port
    entry = AuditEntry.objects.filter(sql__contains="/switchover").latest("pk")
    assert candidate.name in entry.sql and entry.outcome == "succeeded"
    page = _page(client, f"/c/{patroni_row.pk}/ha/")
    assert f'data-member="{candidate.name}"' in page
    state = ha.read(patroni_row)
    assert state.groups[1].leader == candidate.name and not [f for f in state.groups[1].findings if f.level == "bad"]


@pytest.mark.timeout(400)
def test_the_console_follows_a_coordinator_failover(client, viewer, patroni_row, patroni_cluster, transactional_db):
    patroni_cluster.wait_healthy()
    client.force_login(viewer)
    old = patroni_cluster.leader(0)
    assert ha.note_leaders(patroni_row) == 0  # the leaders as they are now
    statuses: list[int] = []
    stop = threading.Event()

    def keep_looking() -> None:  # a viewer with the Overview, Nodes and HA pages open
        from django.test import Client

        viewer_client = Client()
        viewer_client.force_login(viewer)
        while not stop.is_set():
            for path in ("", "nodes/", "ha/"):
                statuses.append(viewer_client.get(f"/c/{patroni_row.pk}/{path}").status_code)
            time.sleep(0.3)

    looker = threading.Thread(target=keep_looking)
    looker.start()
    try:
        patroni_cluster.kill_postgres(patroni_cluster.member(old))
        wait_for(lambda: patroni_cluster.leader(0) not in (None, old), 90, message=patroni_cluster.logs())
        new = patroni_cluster.leader(0)

        def follows() -> bool:
            state = ha.read(patroni_row)
            return (
                state.error == ""
                and state.groups[0].leader == new
                and not [f for f in state.groups[0].findings if f.level == "bad" and "pg_dist_node" in f.text]
            )

        wait_for(follows, 90, message=patroni_cluster.logs())
        time.sleep(2)  # a few more rounds of pages on the new leader
    finally:
        stop.set()
        looker.join(30)
    assert statuses and 500 not in statuses, statuses
    assert ha.note_leaders(patroni_row) == 1
    entry = AuditEntry.objects.get(action="clusters.patroni_leader_changed")
    assert entry.parameters["from"] == old and entry.parameters["to"] == new and entry.source == "system"
    page = _page(client, f"/c/{patroni_row.pk}/")
    assert 'id="failover-banner"' in page and f"{old} → <strong>{new}</strong>" in page
    assert new in _page(client, f"/c/{patroni_row.pk}/ha/")


def test_a_requester_asks_for_a_switchover_and_another_admin_approves(
    client, requester, admin, second_admin, patroni_row, patroni_cluster, job_worker
):
    patroni_cluster.wait_healthy()
    from clusters.models import ClusterAccess
    from selfservice.models import ChangeRequest

    ClusterAccess.objects.create(user=requester, cluster=patroni_row)
    leader = patroni_cluster.leader(1)
    candidate = next(m for m in patroni_cluster.group_members(1) if m.name != leader)
    client.force_login(requester)
    ha_page = _page(client, f"/c/{patroni_row.pk}/ha/")
    assert "Ask for a switchover to" in ha_page and "Switch over to<" not in ha_page
    url = f"/c/{patroni_row.pk}/requests/new/"
    form = {"kind": "switchover", "group": "1", "candidate": candidate.name, "reason": "patch the old leader's host"}
    page = client.post(url, form).content.decode()
    assert 'id="check-ok"' in page and "/switchover" in page, page[-3000:]
    assert client.post(url, {**form, "confirm": "yes"}).status_code == 302
    change = ChangeRequest.objects.get(kind="switchover")
    client.force_login(second_admin)  # four eyes: an Admin other than the requester decides
    response = client.post(f"/requests/{change.pk}/decide/", {"decision": "approve", "comment": "ok"})
    assert response.status_code == 302, response.content.decode()[:2000]
    change.refresh_from_db()
    assert change.state == "approved" and change.job_id
    wait_for(lambda: job_state(change.job_id) in Job.FINAL_STATES, 150, message=job_worker.logs())
    job = Job.objects.get(pk=change.job_id)
    assert job.state == "succeeded", job.error
    assert patroni_cluster.leader(1) == candidate.name


def test_a_rebalance_started_before_a_worker_switchover_ends_honestly(
    client, admin, patroni_row, patroni_cluster, job_worker
):
    patroni_cluster.wait_healthy()
    with patroni_cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ha_moves")
        conn.execute(
            "SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', false) "
            "FROM pg_dist_node WHERE groupid = 2 AND noderole = 'primary'"
        )
        conn.execute("CREATE TABLE ha_moves (id bigint PRIMARY KEY, pad text)")
        conn.execute("SELECT create_distributed_table('ha_moves', 'id', shard_count => 8)")
        conn.execute("INSERT INTO ha_moves SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g")
        conn.execute(
            "SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', true) "
            "FROM pg_dist_node WHERE groupid = 2 AND noderole = 'primary'"
        )
    try:
        client.force_login(admin)
        started = client.post(
            f"/c/{patroni_row.pk}/rebalance/", {"scope": "cluster", "transfer_mode": "block_writes", "confirm": "yes"}
        )
        assert started.status_code == 302, started.content.decode()[:2000]
        rebalance = Job.objects.get(kind="rebalance")
        leader = patroni_cluster.leader(1)
        candidate = next(m for m in patroni_cluster.group_members(1) if m.name != leader)
        switched = client.post(f"/c/{patroni_row.pk}/ha/1/switchover/", {"candidate": candidate.name, "confirm": "yes"})
        assert switched.status_code == 302, switched.content.decode()[:2000]
        for job in Job.objects.filter(pk__in=[rebalance.pk, Job.objects.get(kind="patroni_switchover").pk]):
            wait_for(lambda job=job: job_state(job.pk) in Job.FINAL_STATES, 240, message=job_worker.logs())
        rebalance.refresh_from_db()
        # finished, or failed with the reason: never "running" forever, never silent
        assert rebalance.state in ("succeeded", "failed"), rebalance.state
        if rebalance.state == "failed":
            assert rebalance.error, "a failed rebalance says why"
        with patroni_cluster.connect() as conn:
            assert conn.execute("SELECT count(*) FROM ha_moves").fetchone()[0] == 20000  # no row lost
            active = conn.execute(
                "SELECT count(*) FROM pg_dist_background_job WHERE state IN ('scheduled', 'running', 'cancelling')"
            ).fetchone()[0]
        assert active == 0
    finally:
        with patroni_cluster.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS ha_moves")


def test_pause_resume_and_restart_through_the_console(client, admin, patroni_row, patroni_cluster):
    patroni_cluster.wait_healthy()
    client.force_login(admin)
    base = f"/c/{patroni_row.pk}/ha"
    preview = _page(client, f"{base}/1/pause/")
    assert "PATCH" in preview and "/config" in preview and "&quot;pause&quot;: true" in preview
    assert client.post(f"{base}/1/pause/", {"confirm": "yes"}).status_code == 302
    try:
        wait_for(lambda: ha.read(patroni_row).groups[1].paused, 30, message="group 1 not paused")
        assert "failover paused" in _page(client, f"{base}/")
        replica = next(m.name for m in patroni_cluster.group_members(1) if m.name != patroni_cluster.leader(1))
        refused = client.post(f"{base}/1/switchover/", {"candidate": replica}).content.decode()
        assert "paused" in refused and "Refused" in refused
        assert "already paused" in _page(client, f"{base}/1/pause/")
    finally:
        assert client.post(f"{base}/1/resume/", {"confirm": "yes"}).status_code == 302
    wait_for(lambda: not ha.read(patroni_row).groups[1].paused, 30, message="group 1 still paused")
    entries = AuditEntry.objects.filter(action__in=["clusters.patroni_pause", "clusters.patroni_resume"])
    assert entries.count() == 2 and all("/config" in e.sql and e.outcome == "succeeded" for e in entries)
    # restart the single member of group 2: Patroni answers, the member comes back
    member = patroni_cluster.group_members(2)[0].name
    preview = _page(client, f"{base}/2/restart/?member={member}")
    assert "/restart" in preview
    assert client.post(f"{base}/2/restart/", {"member": member, "confirm": "yes"}).status_code == 302
    entry = AuditEntry.objects.filter(action="clusters.patroni_restart").latest("pk")
    assert entry.outcome == "succeeded" and "/restart" in entry.sql, entry.error
    # a leader is never reinitialized
    page = _page(client, f"{base}/2/reinitialize/?member={member}")
    assert "reinitializes replicas only" in page
    patroni_cluster.wait_healthy()


def test_without_a_dcs_each_groups_rest_api_gives_the_same_view(admin, patroni_row, patroni_cluster):
    patroni_cluster.wait_healthy()
    rest = "\n".join(
        f"{group} " + " ".join(m.api_url for m in patroni_cluster.group_members(group)) for group in (0, 1, 2)
    )
    by_rest = Cluster.objects.create(
        name="ha-rest",
        host=patroni_row.host,
        port=patroni_row.port,
        other_hosts=patroni_row.other_hosts,
        dbname="citus",
        user="postgres",
        password_encrypted=patroni_row.password_encrypted,
        patroni_rest=rest,
    )

    def settled() -> bool:  # a member that just restarted says "starting" for a moment
        state = ha.read(by_rest)
        return state.error == "" and not [f for g in state.groups for f in g.findings if f.level == "bad"]

    wait_for(settled, 60, message=str(ha.read(by_rest)))
    from_dcs, from_rest = ha.read(patroni_row), ha.read(by_rest)
    assert from_rest.error == "" and from_rest.topology is not None and from_rest.topology.source == "rest"
    assert [(g.group, g.leader) for g in from_rest.groups] == [(g.group, g.leader) for g in from_dcs.groups]
    assert {(g.group, r.member.name, r.member.address) for g in from_rest.groups for r in g.members} == {
        (g.group, r.member.name, r.member.address) for g in from_dcs.groups for r in g.members
    }
    assert not [f for g in from_rest.groups for f in g.findings if f.level == "bad"]


def test_the_api_reads_patroni_and_previews_its_operations(live_server, admin, patroni_row, patroni_cluster):
    patroni_cluster.wait_healthy()
    from accounts import actions as token_actions
    from tests.test_api import _call

    _, token = token_actions.do_create_token(admin, "ha-automation", "write", 30)
    api = f"{live_server.url}/api/v1/clusters/{patroni_row.pk}/patroni"
    status, body, _ = _call(api, token)
    assert status == 200 and body["source"] == "dcs" and len(body["members"]) == 5 and body["error"] == ""
    leader = patroni_cluster.leader(1)
    replica = next(m.name for m in patroni_cluster.group_members(1) if m.name != leader)
    status, body, _ = _call(f"{api}/1/switchover", token, "POST", {"candidate": replica, "preview": True})
    assert status == 200 and "/switchover" in body["statement"] and body["refusal"] is None
    status, body, _ = _call(f"{api}/1/switchover", token, "POST", {"candidate": leader})
    assert status == 422 and "already leads" in body["title"]
    status, body, _ = _call(f"{api}/1/pause", token, "POST", {"preview": True})
    assert status == 200 and body["statement"].startswith("PATCH ")
    status, body, _ = _call(f"{api}/1/reinitialize", token, "POST", {"member": leader})
    assert status == 422 and "replicas only" in body["title"]
    assert _call(f"{api}/7/pause", token, "POST", {})[0] == 404


@pytest.mark.timeout(500)
def test_a_rebalance_running_through_a_coordinator_failover_ends_honestly(
    client, admin, patroni_row, patroni_cluster, job_worker
):
    patroni_cluster.wait_healthy()
    with patroni_cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ha_failover")
        conn.execute(
            "SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', false) "
            "FROM pg_dist_node WHERE groupid = 2 AND noderole = 'primary'"
        )
        conn.execute("CREATE TABLE ha_failover (id bigint PRIMARY KEY, pad text)")
        conn.execute("SELECT create_distributed_table('ha_failover', 'id', shard_count => 16)")
        conn.execute("INSERT INTO ha_failover SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g")
        conn.execute(
            "SELECT citus_set_node_property(nodename, nodeport, 'shouldhaveshards', true) "
            "FROM pg_dist_node WHERE groupid = 2 AND noderole = 'primary'"
        )
    try:
        client.force_login(admin)
        started = client.post(
            f"/c/{patroni_row.pk}/rebalance/", {"scope": "cluster", "transfer_mode": "block_writes", "confirm": "yes"}
        )
        assert started.status_code == 302, started.content.decode()[:2000]
        job = Job.objects.get(kind="rebalance")
        wait_for(lambda: Job.objects.get(pk=job.pk).citus_job_id is not None, 60, message=job_worker.logs())
        old = patroni_cluster.leader(0)
        patroni_cluster.kill_postgres(patroni_cluster.member(old))
        wait_for(lambda: patroni_cluster.leader(0) not in (None, old), 90, message=patroni_cluster.logs())
        wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 300, message=job_worker.logs())
        job.refresh_from_db()
        log = list(job.log.values_list("message", flat=True))
        # finished on the new leader, or failed with the reason: never running forever, never silent
        assert job.state in ("succeeded", "failed"), (job.state, log)
        if job.state == "failed":
            assert job.error, log
        patroni_cluster.wait_healthy()
        with patroni_cluster.connect() as conn:
            assert conn.execute("SELECT count(*) FROM ha_failover").fetchone()[0] == 60000  # no row lost
            state = conn.execute(
                "SELECT state FROM pg_dist_background_job WHERE job_id = %s", (job.citus_job_id,)
            ).fetchone()[0]
        assert (job.state == "succeeded") == (state == "finished"), (job.state, state, log)
        print(f"rebalance through a coordinator failover: {job.state}: {job.summary or job.error}")
    finally:
        with patroni_cluster.connect() as conn:
            for (job_id,) in conn.execute(
                "SELECT job_id FROM pg_dist_background_job WHERE state IN ('scheduled','running','cancelling','failing')"
            ).fetchall():
                conn.execute("SELECT citus_job_cancel(%s)", (job_id,))
            conn.execute("DROP TABLE IF EXISTS ha_failover")
