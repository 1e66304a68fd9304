"""The shared-figure mechanism on its own (no cluster): one computation per key, at most N per cluster.

Viewers of different tabs or options each need their own figure; before the cap, thirty viewers with
thirty option sets cost thirty simultaneous fan-outs, each waiting out a hung node.
"""

from __future__ import annotations

import threading
import time

import pytest

from monitoring import shared


def _crowd(n: int, target) -> list[BaseException | None]:
    errors: list[BaseException | None] = [None] * n

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # recorded and asserted on
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


class _Meter:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.now, self.most, self.calls = seconds, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self) -> str:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
        return "figure"


def test_twenty_viewers_of_one_figure_cost_one_computation():
    meter = _Meter(0.3)
    key = shared.key_for("t", 1, "activity")
    errors = _crowd(20, lambda i: shared.shared_figure(key, 10, meter, group="cluster:1", slots=2))
    assert errors == [None] * 20
    assert meter.calls == 1


def test_at_most_n_fan_outs_per_cluster_whatever_the_options():
    meter = _Meter(0.2)
    results: list[str] = []

    def viewer(i: int) -> None:
        value, _ = shared.shared_figure(
            shared.key_for("t", 1, "activity", i), 10, meter, group="cluster:1", slots=2, lock_seconds=10
        )
        results.append(value)

    errors = _crowd(8, viewer)
    assert errors == [None] * 8
    assert results == ["figure"] * 8  # every viewer got a figure, none was refused
    assert meter.calls == 8 and meter.most == 2


def test_another_cluster_is_not_held_by_a_busy_one():
    slow, quick = _Meter(1.0), _Meter(0.0)
    threads = [
        threading.Thread(
            target=shared.shared_figure,
            args=(shared.key_for("t", 1, i), 10, slow),
            kwargs={"group": "cluster:1", "slots": 2},
        )
        for i in range(2)
    ]
    for t in threads:
        t.start()
    time.sleep(0.1)
    started = time.monotonic()
    shared.shared_figure(shared.key_for("t", 2, "x"), 10, quick, group="cluster:2", slots=2)
    assert time.monotonic() - started < 0.5
    for t in threads:
        t.join()


def test_a_full_cluster_serves_the_last_figure_with_its_time_or_says_it_is_busy():
    key = shared.key_for("t", 1, "locks")
    _, stamp = shared.shared_figure(key, 0, lambda: "old", group="cluster:1", slots=1)
    hold = threading.Event()
    release = threading.Event()

    def occupy() -> None:
        def compute() -> str:
            hold.set()
            release.wait(10)
            return "other"

        shared.shared_figure(shared.key_for("t", 1, "queries"), 0, compute, group="cluster:1", slots=1)

    holder = threading.Thread(target=occupy)
    holder.start()
    assert hold.wait(5)
    try:
        # the only slot is taken: the stale figure at once, with the time it was measured
        value, when = shared.shared_figure(key, 0, lambda: "new", group="cluster:1", slots=1)
        assert (value, when) == ("old", stamp)
        # a figure never measured waits for the slot, then is refused with the reason
        with pytest.raises(shared.Busy, match="already answering 1 figure"):
            shared.shared_figure(
                shared.key_for("t", 1, "tenants"), 0, lambda: "t", group="cluster:1", slots=1, lock_seconds=0.3
            )
    finally:
        release.set()
        holder.join()
    # the slot is free again: the next request computes
    assert shared.shared_figure(key, 0, lambda: "new", group="cluster:1", slots=1)[0] == "new"


def test_a_figure_stored_between_the_first_look_and_the_lock_is_not_computed_again(monkeypatch):
    """50 viewers of Activity on Redis cost two fan-outs now and then: a caller read "nothing yet", the
    one computing stored the figure and let go of the lock, and the late caller took the lock and
    computed again. Played here deterministically: the first look misses, the figure is there."""
    key = shared.key_for("t", 1, "activity-race")
    shared.shared_figure(key, 10, lambda: "first", group="cluster:1", slots=2)
    real = shared._cache()

    class FirstLookMisses:
        def __init__(self) -> None:
            self.looked = False

        def get(self, k: str, default=None):
            if k == key and not self.looked:
                self.looked = True
                return None
            return real.get(k, default)

        def __getattr__(self, name: str):
            return getattr(real, name)

    monkeypatch.setattr(shared, "_cache", FirstLookMisses)
    calls: list[int] = []
    value, _ = shared.shared_figure(key, 10, lambda: calls.append(1) or "second", group="cluster:1", slots=2)
    assert value == "first" and calls == []


def test_a_figure_stored_just_before_the_lock_is_released_is_not_computed_again(monkeypatch):
    """A waiter looked (nothing yet), the one computing stored the figure and released the lock, the
    waiter saw the lock free: it must look once more rather than compute the figure a second time."""
    key = shared.key_for("t", 1, "activity-release-race")
    real = shared._cache()
    theirs = shared._Lock(real, key + ":computing", 30)
    assert theirs.acquire()  # another caller is computing it

    class StoredWhileWeLooked:
        def __init__(self) -> None:
            self.looks = 0

        def get(self, k: str, default=None):
            if k == key:
                self.looks += 1
                if self.looks == 2:  # the second look (in the wait loop) still misses...
                    value = None
                    real.set(key, ("theirs", time.time()), 60)  # ...while the other stores it
                    theirs.release()  # and releases the lock
                    return value
            return real.get(k, default)

        def __getattr__(self, name: str):
            return getattr(real, name)

    cache = StoredWhileWeLooked()
    monkeypatch.setattr(shared, "_cache", lambda: cache)
    monkeypatch.setattr(shared, "_WAIT_STEP", 0.01)
    calls: list[int] = []
    value, _ = shared.shared_figure(key, 10, lambda: calls.append(1) or "ours", group="cluster:1", slots=2)
    assert value == "theirs" and calls == []
