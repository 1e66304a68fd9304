from __future__ import annotations

import re
from typing import Any

from django import forms

from citusadmin.filters import FilterForm
from selfservice.models import ChangeRequest

Kind = ChangeRequest.Kind
_TABLE_KINDS = {Kind.DISTRIBUTE, Kind.REFERENCE, Kind.SHARD_COUNT, Kind.ANALYZE}


_PART = r'"((?:[^"]|"")+)"|([^."]+)'
_QUALIFIED = re.compile(rf"^(?:{_PART})\.(?:{_PART})$")


def split_qualified(text: str) -> tuple[str, str] | None:
    """``schema.table`` as PostgreSQL names it: either part may be double-quoted (then it may hold
    dots, spaces and doubled quotes); an unquoted part is taken as written (spaces included, since
    the console quotes every identifier it sends). Each part at most 63 bytes."""
    match = _QUALIFIED.match(text)
    if match is None:
        return None
    q_schema, schema, q_table, table = match.groups()
    parts = (
        q_schema.replace('""', '"') if q_schema else schema.strip(),
        q_table.replace('""', '"') if q_table else table.strip(),
    )
    if not all(parts) or any(len(p.encode()) > 63 for p in parts):
        return None
    return parts


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices, label="Change")
    table = forms.CharField(
        required=False,
        max_length=200,
        help_text='schema.table, for example public.orders; quote names with dots: "my schema"."order items"',
    )
    column = forms.CharField(
        required=False,
        max_length=63,
        label="Distribution column",
        widget=forms.TextInput(attrs={"list": "column-choices"}),
    )
    shard_count = forms.IntegerField(required=False, min_value=1, max_value=64000)
    colocate_with = forms.CharField(
        required=False, max_length=127, help_text="a distributed table (schema.table), 'none', or empty for the default"
    )
    cascade_to_colocated = forms.BooleanField(
        required=False, initial=True, label="Change the co-located tables too (shard count)"
    )
    group = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100_000,
        label="Citus group",
        help_text="Switchover: 0 is the coordinator.",
    )
    candidate = forms.CharField(required=False, max_length=100, label="New leader (Patroni member)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, help_text="Why, for the Admin")

    def clean_table(self) -> tuple[str, str] | None:
        raw = (self.cleaned_data.get("table") or "").strip()
        if not raw:
            return None
        parsed = split_qualified(raw)
        if parsed is None:
            raise forms.ValidationError('Write the table as schema.table (quote a name that has a dot: "a.b".c).')
        return parsed

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        kind = data.get("kind")
        if kind in _TABLE_KINDS and not data.get("table"):
            self.add_error("table", "Name the table.")
        if kind == Kind.DISTRIBUTE and not data.get("column"):
            self.add_error("column", "Choose the distribution column.")
        if kind == Kind.SWITCHOVER and (data.get("group") is None or not data.get("candidate")):
            self.add_error("candidate", "Name the group and the member that should lead it.")
        if kind == Kind.SHARD_COUNT and not data.get("shard_count"):
            self.add_error("shard_count", "Give the new shard count.")
        return data

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        if kind == Kind.REBALANCE:
            return {}
        if kind == Kind.SWITCHOVER:
            return {"group": data["group"], "candidate": data["candidate"].strip()}
        schema, table = data["table"]
        params: dict[str, Any] = {"schema": schema, "table": table}
        if kind == Kind.DISTRIBUTE:
            params.update(
                column=data["column"], shard_count=data["shard_count"], colocate_with=data["colocate_with"] or None
            )
        elif kind == Kind.SHARD_COUNT:
            params.update(shard_count=data["shard_count"], cascade_to_colocated=bool(data["cascade_to_colocated"]))
        return params


class DecisionForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)


class RequestFilterForm(FilterForm):
    state = forms.ChoiceField(label="State", choices=[("", "all states"), *ChangeRequest.State.choices])
