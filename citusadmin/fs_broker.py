"""The embedded Celery broker: kombu's filesystem transport, made safe for concurrent publishers.

kombu's own ``filesystem`` transport (kombu 5.7) creates a message file under its final ``*.msg``
name and only then writes into it, while the consumer renames and reads any ``*.msg`` file without
taking the publisher's lock. A consumer that lists the folder between the two reads an empty or
partial file, and ``json.loads`` raises ``JSONDecodeError`` inside the worker's event loop, which
Celery treats as unrecoverable: the worker exits (kombu issue 1551; seen twice in 40 minutes of
normal use). It also moves every consumed message through the machine's shared temporary folder.

This transport keeps kombu's layout and semantics and changes three things:

- **publish atomically**: the payload is written to ``tmp/`` (same filesystem), flushed and
  fsynced, then ``os.replace``d into the queue folder, so a ``*.msg`` file is always complete;
- **consume privately**: a message is renamed into ``work/`` (atomic; of two consumers exactly one
  wins) and removed after it is read, never through ``/tmp``;
- **quarantine instead of crashing**: a file that still cannot be decoded (written by an older
  version, or a damaged disk) is moved to ``bad/`` and logged; the worker keeps running.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)


def transport_options(folder: Path) -> dict[str, object]:
    """The broker's folders under ``folder`` (created private), as kombu's transport options."""
    for sub in ("queue", "processed", "tmp", "work", "bad", "control"):
        (folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


class Channel(filesystem.Channel):
    def _dirs(self) -> tuple[Path, Path, Path]:
        base = Path(self.data_folder_in).parent
        dirs = (base / "tmp", base / "work", base / "bad")
        for d in dirs:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        return dirs

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]  # kombu stubs disagree
        """Write the whole message beside the queue, then rename it in (readers never see a partial file)."""
        tmp_dir, _, _ = self._dirs()
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        tmp_path = tmp_dir / name
        try:
            fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, str_to_bytes(dumps(message)))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp_path, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise ChannelError(f"Cannot add message {name!r} to the queue folder") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Take the oldest message of ``queue``: rename it into ``work/`` (one consumer wins), read, remove."""
        _, work_dir, bad_dir = self._dirs()
        suffix = f".{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != suffix[1:]:
                continue
            claimed = work_dir / filename
            try:
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except OSError:
                continue  # another consumer took it
            try:
                payload = claimed.read_bytes()
                message = loads(bytes_to_str(payload))
            except (OSError, ValueError) as exc:
                logger.error("broker: message %s cannot be read (%s); moved to %s", filename, exc, bad_dir)
                try:
                    os.replace(claimed, bad_dir / filename)
                except OSError:
                    claimed.unlink(missing_ok=True)
                continue
            claimed.unlink(missing_ok=True)
            return message
        raise Empty()

    def _queue_bind(self, exchange: str, routing_key: str | None, pattern: str | None, queue: str | None) -> None:
        """kombu creates an exchange table with ``exists()`` then ``open("wb")``: two processes starting
        together truncate each other's table while a third reads it empty. Create it whole, once."""
        file: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]  # missing from kombu's stubs
        self.control_folder.mkdir(mode=0o700, exist_ok=True)
        if not file.exists():
            tmp_dir, _, _ = self._dirs()
            tmp_path = tmp_dir / f"{uuid.uuid4()}.exchange"
            tmp_path.write_bytes(
                str_to_bytes(dumps([filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")]))
            )
            try:
                os.link(tmp_path, file)  # fails if another process created it first: then add to theirs
                return
            except FileExistsError:
                pass
            finally:
                tmp_path.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key or "", pattern, queue or "")

    def _size(self, queue: str) -> int:
        suffix = f"{queue}.msg"
        return sum(1 for f in os.listdir(self.data_folder_in) if f.partition(".")[2] == suffix)


class Transport(filesystem.Transport):
    """kombu's filesystem transport with :class:`Channel` (atomic publish, private consume)."""

    Channel = Channel
