from __future__ import annotations

from typing import Any

from django import forms

from citusadmin.citus.tables import KINDS, PRIVILEGES
from citusadmin.filters import FilterForm


class DistributeForm(forms.Form):
    column = forms.ChoiceField(label="Distribution column")
    shard_count = forms.IntegerField(
        min_value=1, max_value=64000, required=False, help_text="Empty: the cluster's citus.shard_count."
    )
    colocate_with = forms.ChoiceField(required=False, label="Co-locate with")
    as_job = forms.BooleanField(
        required=False, label="Run as a job (create_distributed_table_concurrently where the cluster supports it)"
    )

    def __init__(
        self, *args: Any, columns: list[tuple[str, str]], partners: list[str], default_shards: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        column = self.fields["column"]
        colocate = self.fields["colocate_with"]
        assert isinstance(column, forms.ChoiceField) and isinstance(colocate, forms.ChoiceField)
        column.choices = [(name, f"{name} ({type_})") for name, type_ in columns]
        colocate.choices = [("default", "default (same shard count and column type)"), ("none", "none")] + [
            (p, p) for p in partners
        ]
        self.fields["shard_count"].help_text = f"Empty: the cluster's citus.shard_count ({default_shards})."


class AlterForm(forms.Form):
    shard_count = forms.IntegerField(min_value=1, max_value=64000, required=False)
    colocate_with = forms.CharField(required=False, max_length=200)
    distribution_column = forms.CharField(required=False, max_length=63)
    cascade_to_colocated = forms.BooleanField(required=False, label="Apply to the co-located tables too")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        if not (data.get("shard_count") or data.get("colocate_with") or data.get("distribution_column")):
            raise forms.ValidationError("Give a new shard count, co-location or distribution column.")
        return data


class GrantForm(forms.Form):
    privilege = forms.ChoiceField(choices=[(p, p) for p in PRIVILEGES])
    role = forms.RegexField(regex=r"^[^\x00]{1,63}$", max_length=63)
    revoke = forms.BooleanField(required=False)


class TableFilterForm(FilterForm):
    schema = forms.CharField(label="Schema", max_length=63)
    kind = forms.ChoiceField(label="Kind", choices=[("", "all kinds"), *((k, k.replace("_", " ")) for k in KINDS)])
    name = forms.CharField(label="Name contains", max_length=63)
    sort = forms.ChoiceField(label="Sort", choices=[("name", "by name"), ("shards", "most shards first")])
