"""Node forms: every value validated before any SQL is built."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django import forms

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def validate_host(value: str) -> str:
    value = value.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise forms.ValidationError("Enter a host name (letters, digits, dots, hyphens) or an IP address.")
    return value


class HostPortForm(forms.Form):
    host = forms.CharField(max_length=253)
    port = forms.IntegerField(min_value=1, max_value=65535, initial=5432)

    def clean_host(self) -> str:
        return validate_host(self.cleaned_data["host"])


class AddNodeForm(HostPortForm):
    role = forms.ChoiceField(choices=[("primary", "primary"), ("secondary", "secondary")], initial="primary")
    groupid = forms.IntegerField(
        required=False,
        min_value=0,
        label="Group id",
        help_text="Leave empty for a new group (a new primary). A secondary joins the group of its primary.",
    )
    nodecluster = forms.RegexField(
        regex=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        initial="default",
        label="Node cluster",
        help_text="Secondaries serve read-only queries for sessions with citus.use_secondary_nodes.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        if data.get("role") == "secondary" and data.get("groupid") is None:
            self.add_error("groupid", "A secondary needs the group id of the primary it replicates.")
        return data


class UpdateNodeForm(HostPortForm):
    pass


class ShouldHaveShardsForm(forms.Form):
    value = forms.TypedChoiceField(choices=[("true", "yes"), ("false", "no")], coerce=lambda v: v == "true")
