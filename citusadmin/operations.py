"""One declaration for every operation on a node or a table: what a user sees (title, explanation,
button, whether it is destructive), the permission, the form, the statement it previews, and how it
runs: an ``actions.do_*`` function (audited, with the statement sent) or a job kind.

``statement`` is what the preview shows; for a job operation it is the job kind's own statement, so
the preview is what the runner sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from psycopg import sql

from citusadmin.perms import Perm

Fields = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    perm: Perm
    title: str
    explain: str
    done: Callable[[Any, Fields], str]  # (the object, fields) -> what happened, in words
    statement: Callable[[Any, Fields], sql.Composed] | None = None
    run: Callable[..., Any] | None = None  # (actor, cluster, obj, fields, statement) -> Citus's notices
    job: Callable[[Any, Fields], tuple[Any, Any]] | None = None  # (obj, fields) -> (job kind, params)
    form: type[forms.Form] | None = None
    button: str = ""
    button_for: Callable[[Fields], str] | None = None  # when the button depends on the fields
    danger: bool = False
    cascade_option: bool = False  # offers "cascade through foreign keys"

    def __post_init__(self) -> None:
        if (self.run is None) == (self.job is None):
            raise TypeError(f"{self.title}: an operation either runs an action or starts a job")
        if self.run is not None and self.statement is None:
            raise TypeError(f"{self.title}: an operation that runs an action previews its statement")

    def sql_for(self, obj: Any, fields: Fields) -> sql.Composed:
        if self.job is not None:
            kind, params = self.job(obj, fields)
            return kind.statement(params)
        assert self.statement is not None
        return self.statement(obj, fields)

    def label(self, fields: Fields) -> str:
        if self.button_for is not None:
            return self.button_for(fields)
        return self.button or self.title

    @property
    def is_job(self) -> bool:
        return self.job is not None
