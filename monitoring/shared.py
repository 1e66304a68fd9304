"""Figures that reach every node, computed at most once per cluster per interval, whoever asks.

Fifty people on a monitoring tab used to cost fifty fan-outs per refresh (and with a hung worker,
fifty web threads each waiting out the node timeout). Here one request computes; the others get the
last figure at once, with the time it was measured, while it is refreshed (stale-while-revalidate).
Only the very first request for a figure waits, and not longer than the computation's own limit.

Coordination goes through the ``shared`` cache, which every web process sees: Redis when the console
uses Redis, else a file cache in the console's private folder. The single-flight lock is Redis's
atomic ``add``, or for the file cache a lock file created with ``O_CREAT | O_EXCL`` beside it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.cache import caches

_WAIT_STEP = 0.05


def _cache() -> Any:
    return caches["shared"]


class _Lock:
    """Held by the one caller computing a figure; a lock older than its timeout is taken over."""

    def __init__(self, cache: Any, key: str, seconds: float) -> None:
        self.cache, self.key, self.seconds = cache, key, seconds
        location = getattr(cache, "_dir", None)
        self.path = Path(location) / (key.replace(":", "_") + ".lock") if location else None

    def acquire(self) -> bool:
        if self.path is None:
            return bool(self.cache.add(self.key, 1, timeout=self.seconds))
        for _ in range(2):
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return True
            except FileExistsError:
                try:
                    if time.time() - self.path.stat().st_mtime < self.seconds:
                        return False
                    self.path.unlink()  # its holder died: take it over
                except FileNotFoundError:
                    continue
        return False

    def held(self) -> bool:
        return self.path.exists() if self.path is not None else self.cache.get(self.key) is not None

    def release(self) -> None:
        if self.path is None:
            self.cache.delete(self.key)
        else:
            self.path.unlink(missing_ok=True)


def key_for(*parts: object) -> str:
    raw = ":".join(str(p) for p in parts)
    return "fig:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


class Busy(Exception):
    """Every fan-out slot of the cluster is taken and there is no earlier figure to show."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        super().__init__(
            f"The cluster is already answering {slots} figure(s) that reach every node (the limit per "
            "cluster); this one follows at the next refresh."
        )


class _Slots:
    """At most ``count`` computations at once for one group (one cluster), whatever their keys."""

    def __init__(self, cache: Any, group: str, count: int, seconds: float) -> None:
        self.locks = [_Lock(cache, key_for("slot", group, i), seconds) for i in range(count)]
        self.held: _Lock | None = None

    def acquire(self) -> bool:
        for lock in self.locks:
            if lock.acquire():
                self.held = lock
                return True
        return False

    def release(self) -> None:
        if self.held is not None:
            self.held.release()
            self.held = None


def _wait_for(slots: _Slots, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if slots.acquire():
            return True
        time.sleep(_WAIT_STEP)
    return False


def shared_figure[T](
    key: str,
    ttl: float,
    compute: Callable[[], T],
    *,
    lock_seconds: float = 15,
    group: str | None = None,
    slots: int = 0,
) -> tuple[T, float]:
    """(value, computed_at epoch): fresh within ``ttl``, else computed by one caller at a time.

    With ``group`` and ``slots``, at most ``slots`` computations of that group (a cluster's fan-outs,
    whatever tab or options) run at once across every web process: a caller that finds them all taken
    gets the last figure if there is one, else waits for a slot up to ``lock_seconds`` and then raises
    :class:`Busy`."""
    cache = _cache()
    entry = cache.get(key)
    now = time.time()
    if entry is not None and now - entry[1] < ttl:
        return entry[0], entry[1]
    lock = _Lock(cache, key + ":computing", lock_seconds)
    if lock.acquire():
        cap = _Slots(cache, group, slots, lock_seconds) if group is not None and slots > 0 else None
        try:
            # Someone may have finished computing between our first look and taking the lock: look again
            # (without this, a caller that read "nothing yet" just before another stored the figure
            # computed it a second time).
            again = cache.get(key)
            if again is not None and time.time() - again[1] < ttl:
                return again[0], again[1]
            if cap is not None and not cap.acquire():
                if entry is not None:
                    return entry[0], entry[1]
                if not _wait_for(cap, lock_seconds):
                    raise Busy(slots)
            value = compute()
            stamp = time.time()
            cache.set(key, (value, stamp), timeout=max(int(ttl * 30), 60))
            return value, stamp
        finally:
            if cap is not None:
                cap.release()
            lock.release()
    if entry is not None:  # someone else is refreshing it: the last figure, with its time
        return entry[0], entry[1]
    deadline = time.monotonic() + lock_seconds
    while time.monotonic() < deadline:  # nothing measured yet: wait for the one computing it
        time.sleep(_WAIT_STEP)
        entry = cache.get(key)
        if entry is not None:
            return entry[0], entry[1]
        if not lock.held():
            # the one computing may have stored the figure and released the lock between our two looks
            entry = cache.get(key)
            if entry is not None:
                return entry[0], entry[1]
            break
    cap = _Slots(cache, group, slots, lock_seconds) if group is not None and slots > 0 else None
    if cap is not None and not _wait_for(cap, lock_seconds):
        raise Busy(slots)
    try:
        value = compute()
    finally:
        if cap is not None:
            cap.release()
    return value, time.time()
