from __future__ import annotations

import re
from typing import Any

from django import forms

from citusadmin.citus.rebalance import TRANSFER_MODES
from citusadmin.filters import FilterForm
from citusadmin.params import int_list

MODE_CHOICES = [("", "auto (default)")] + [(m, m) for m in TRANSFER_MODES if m != "auto"]


MAX_TABLE_CHOICES = 200


def _must_be_one_of(value: str, known: set[str]) -> None:
    if value and value not in known:
        raise forms.ValidationError(f"{value} is not a hash-distributed table of this cluster.")


class RebalanceForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[
            ("cluster", "Whole cluster (Citus background job)"),
            ("table", "One table (blocking call, with threshold and limits)"),
        ],
        initial="cluster",
        widget=forms.RadioSelect,
    )
    strategy = forms.ChoiceField(required=False, label="Strategy")
    drain_only = forms.BooleanField(
        required=False, label="Drain only (move shards off nodes marked should-have-shards = false)"
    )
    transfer_mode = forms.ChoiceField(choices=MODE_CHOICES, required=False, label="Shard transfer mode")
    relation = forms.ChoiceField(required=False, label="Table")
    threshold = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Fraction of imbalance tolerated (strategy default when empty).",
    )
    max_shard_moves = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    excluded_shards = forms.CharField(required=False, help_text="Shard ids to leave in place, comma separated.")

    def __init__(
        self,
        *args: Any,
        strategies: list[str] | None = None,
        tables: list[str] | None = None,
        background: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.background = background  # the cluster has Citus's background rebalance (11.2+)
        strategy_field = self.fields["strategy"]
        relation_field = self.fields["relation"]
        assert isinstance(strategy_field, forms.ChoiceField) and isinstance(relation_field, forms.ChoiceField)
        strategy_field.choices = [("", "cluster default")] + [(s, s) for s in strategies or []]
        tables = tables or []
        if len(tables) <= MAX_TABLE_CHOICES:
            relation_field.choices = [("", "—")] + [(t, t) for t in tables]
        else:  # a thousand-option select weighs 54 kB and 100 ms of template: type the name instead
            known = set(tables)
            self.fields["relation"] = forms.CharField(
                required=False,
                label="Table",
                max_length=300,
                help_text=f"schema.table as Citus names it; {len(tables):,} hash-distributed tables, too many to list.",
                validators=[lambda v: _must_be_one_of(v, known)],
            )

    def clean_excluded_shards(self) -> list[int]:
        raw = self.cleaned_data.get("excluded_shards") or ""
        values = int_list(re.sub(r"\s+", ",", raw))
        if values is None:
            raise forms.ValidationError("Give shard ids as numbers, separated by commas.")
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        if data.get("scope") == "table" and not data.get("relation"):
            self.add_error("relation", "Choose the table to rebalance.")
        if data.get("scope") == "cluster" and (
            data.get("threshold") is not None or data.get("max_shard_moves") or data.get("excluded_shards")
        ):
            self.add_error(
                "scope",
                "Threshold, max moves and excluded shards apply to one table only: Citus's "
                "background rebalance has no such options.",
            )
        if data.get("scope") == "cluster" and not self.background:
            self.add_error(
                "scope",
                "This cluster's Citus has no background rebalance with status (needs 11.2+); "
                "rebalance one table at a time instead.",
            )
        return data

    def kind_and_params(self) -> tuple[str, dict[str, Any]]:
        """The job kind and its parameters (valid form only): what the page and the API start."""
        data = self.cleaned_data
        params: dict[str, Any] = {"strategy": data["strategy"] or None, "transfer_mode": data["transfer_mode"] or None}
        if data["scope"] == "table":
            params.update(
                relation=data["relation"],
                threshold=data["threshold"],
                max_shard_moves=data["max_shard_moves"],
                excluded_shards=data["excluded_shards"],
            )
            return "rebalance_table", params
        params["drain_only"] = data["drain_only"]
        return "rebalance", params


class JobFilterForm(FilterForm):
    cluster = forms.TypedChoiceField(label="Cluster", coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="Kind")
    state = forms.ChoiceField(label="State")
    actor = forms.CharField(label="Started by", max_length=150)
