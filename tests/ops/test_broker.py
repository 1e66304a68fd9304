"""The embedded broker (./run's default): nothing lost, nothing that kills the worker."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from kombu import Connection

from tests.helpers import FS_BROKER
from tests.plugins.broker import WorkerProcess

PUBLISHER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "citusadmin.settings"
os.environ.pop("CITUSADMIN_REDIS_URL", None)
import django
django.setup()
from citusadmin.celery import app
queue, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with app.connection_for_write() as conn:
    for i in range(first, first + count):
        app.send_task("celery.accumulate", args=(i,), kwargs={"pad": "x" * 256_000}, queue=queue, connection=conn)
"""


def _channel(folder: Path) -> Connection:
    from citusadmin.fs_broker import transport_options

    return Connection(
        "filesystem://", transport="citusadmin.fs_broker:Transport", transport_options=transport_options(folder)
    )


def test_it_never_shows_a_consumer_a_half_written_message(tmp_path):
    with _channel(tmp_path) as conn:
        channel = conn.default_channel
        channel._put("q", {"body": "x" * 100_000})
        # while publishing, the file exists only outside the queue folder, under a name no reader takes
        assert [p.name.endswith(".q.msg") for p in (tmp_path / "queue").iterdir()] == [True]
        assert list((tmp_path / "tmp").iterdir()) == []
        assert channel._get("q") == {"body": "x" * 100_000}
        assert list((tmp_path / "work").iterdir()) == []


def test_a_consumer_never_sees_a_message_a_publisher_is_still_writing(tmp_path, monkeypatch):
    """The worker used to read a message file between its creation and its write (JSONDecodeError,
    then Celery's "Unrecoverable error" and a dead worker). Pause a publisher mid-write and read."""
    import os
    import threading

    real_fsync = os.fsync
    writing, release = threading.Event(), threading.Event()

    def slow_fsync(fd: int) -> None:
        writing.set()
        release.wait(5)
        real_fsync(fd)

    with _channel(tmp_path) as conn:
        channel = conn.default_channel
        monkeypatch.setattr(os, "fsync", slow_fsync)
        publisher = threading.Thread(target=channel._put, args=("q", {"body": "y" * 50_000}))
        publisher.start()
        assert writing.wait(5)
        from queue import Empty

        with pytest.raises(Empty):  # mid-write: nothing to take, and nothing that fails to decode
            channel._get("q")
        release.set()
        publisher.join(5)
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert channel._get("q") == {"body": "y" * 50_000}


def test_exchange_tables_are_created_whole_by_racing_processes(tmp_path):
    """Several processes binding queues at once (web, workers, beat starting together) each leave a
    readable table that lists every queue."""
    import threading

    conns = [_channel(tmp_path) for _ in range(8)]
    try:
        channels = [c.default_channel for c in conns]
        threads = [
            threading.Thread(target=ch._queue_bind, args=("celeryev", "", "", f"q{i}")) for i, ch in enumerate(channels)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert {q.queue for q in channels[0].get_table("celeryev")} == {f"q{i}" for i in range(8)}
    finally:
        for c in conns:
            c.release()


def test_it_quarantines_an_unreadable_message_instead_of_crashing_the_worker(tmp_path):
    """kombu's stock transport raised JSONDecodeError here, and Celery exited (kombu issue 1551)."""
    with _channel(tmp_path) as conn:
        channel = conn.default_channel
        (tmp_path / "queue" / "0_partial.q.msg").write_bytes(b"")  # what a reader saw mid-write before
        channel._put("q", {"ok": 1})
        assert channel._get("q") == {"ok": 1}
        assert [p.name for p in (tmp_path / "bad").iterdir()] == ["0_partial.q.msg"]


def test_it_keeps_messages_private(tmp_path):
    with _channel(tmp_path) as conn:
        conn.default_channel._put("q", {"secret": 1})
    (msg,) = (tmp_path / "queue").iterdir()
    assert msg.stat().st_mode & 0o077 == 0


@pytest.mark.broker
def test_it_delivers_thousands_of_messages_from_concurrent_publishers_and_the_worker_stays_up(
    transactional_db, tmp_path
):
    """Four processes publish 3,000 messages of 256 kB at once on ./run's default broker to a prefork worker
    (as ./run starts it): every message is consumed exactly once and the worker is still running."""
    queue = f"stress-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(FS_BROKER, queue, tmp_path / "worker.log", pool="prefork")
    try:
        worker.wait_ready()
        per, procs = 750, 4
        publishers = [
            subprocess.Popen([sys.executable, "-c", PUBLISHER, queue, str(i * per), str(per)], cwd=settings.BASE_DIR)
            for i in range(procs)
        ]
        for p in publishers:
            assert p.wait(180) == 0
        deadline = time.monotonic() + 240
        seen: set[str] = set()
        while time.monotonic() < deadline:
            log = worker.log.read_text()
            seen = {
                line.rsplit(": ", 1)[1]
                for line in log.splitlines()
                if "celery.accumulate[" in line and "succeeded" in line
            }
            if len(seen) >= per * procs:
                break
            assert worker.proc.poll() is None, log[-3000:]
            time.sleep(1)
        log = worker.log.read_text()
        assert seen == {f"({i},)" for i in range(per * procs)}, f"{len(seen)} consumed"
        assert log.count("celery.accumulate[") == 2 * per * procs  # received + succeeded, each once
        assert worker.proc.poll() is None, "the worker died"
        assert "Unrecoverable error" not in log and "JSONDecodeError" not in log
        broker = Path(settings.VAR_DIR) / "broker"
        assert not [p for p in (broker / "queue").iterdir() if queue in p.name]
        assert not [p for p in (broker / "bad").iterdir() if queue in p.name]
    finally:
        worker.stop()
