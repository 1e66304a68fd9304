"""Typed readers for ``CITUSADMIN_*`` environment variables.

Every setting the operator can change comes through one of these helpers, so a bad value stops
start-up with ``ImproperlyConfigured`` naming the variable, instead of failing later and far away.
Secrets may also come from ``<NAME>_FILE`` (a path whose contents are the value).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PREFIX = "CITUSADMIN_"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(PREFIX + name)
    if value is None:
        return None
    return value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{PREFIX}{name} must be one of true/false/1/0/yes/no/on/off, not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{PREFIX}{name} must be an integer, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{PREFIX}{name} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{PREFIX}{name} must be at most {maximum}, not {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, schemes: tuple[str, ...]) -> str:
    """A URL whose scheme must be one of ``schemes``; empty string when unset."""
    value = env_str(name)
    if value and not value.startswith(tuple(s + "://" for s in schemes)):
        raise ImproperlyConfigured(f"{PREFIX}{name} must start with one of {', '.join(s + '://' for s in schemes)}")
    return value


def env_secret(name: str, *, generate_into: Path | None = None, generator=None) -> str:
    """A secret from ``CITUSADMIN_<name>``, ``CITUSADMIN_<name>_FILE``, or a generated file.

    The generated file (mode 0600) is the embedded default for a single machine; production sets
    the variable or points ``_FILE`` at a mounted secret.
    """
    value = _raw(name)
    if value:
        return value
    path_value = _raw(name + "_FILE")
    if path_value:
        path = Path(path_value)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{PREFIX}{name}_FILE: cannot read {path}: {exc.strerror}") from None
    if generate_into is None or generator is None:
        raise ImproperlyConfigured(f"{PREFIX}{name} (or {PREFIX}{name}_FILE) must be set")
    if not generate_into.exists():
        generate_into.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(generate_into, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process (web or worker) wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(generator())
    return generate_into.read_text().strip()


def secure_var_dir(var_dir: Path) -> None:
    """Make the console's own folder private to its user (umask 077 for this process, the folder 0700,
    files at its top level 0600). Anything that cannot be fixed is reported by check citusadmin.E010."""
    os.umask(0o077)
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in [var_dir, *var_dir.iterdir()]:
        try:
            mode = path.stat().st_mode & 0o777
            private = (mode & 0o700) if path.is_dir() or mode & 0o100 else (mode & 0o600)
            if mode != private and path.stat().st_uid == os.getuid():
                path.chmod(private)
        except OSError:
            continue
