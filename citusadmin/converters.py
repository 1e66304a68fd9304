"""Path converters. ``id`` replaces Django's ``int`` for database ids: at most 18 digits, so a
20-digit id in a URL is a 404, never an OverflowError (SQLite) or an out-of-range bigint (PostgreSQL).
Operation names are converters too, so every cluster URL passes ``cluster_id`` as an int."""

from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


class _Choice:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class NodeOpConverter(_Choice):
    regex = "activate|disable|should-have-shards|update|remove"


class TableOpConverter(_Choice):
    regex = "reference|undistribute|add-to-metadata|alter|vacuum|vacuum-analyze|analyze|grant"


def register() -> None:
    register_converter(IdConverter, "id")
    register_converter(NodeOpConverter, "nodeop")
    register_converter(TableOpConverter, "tableop")
