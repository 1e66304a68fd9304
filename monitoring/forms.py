"""Monitoring forms."""

from __future__ import annotations

from typing import Any

from django import forms

from monitoring.alerts import RULES


class AlertRuleForm(forms.Form):
    """One rule on one cluster: on or off, after how many minutes, at what threshold."""

    rule = forms.ChoiceField(choices=[(name, r.title) for name, r in RULES.items()])
    enabled = forms.BooleanField(required=False, label="On")
    for_minutes = forms.IntegerField(required=False, min_value=0, max_value=10_080, label="After (minutes)")
    threshold = forms.FloatField(required=False, min_value=0, max_value=100_000, label="Threshold")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        rule = RULES.get(data.get("rule") or "")
        if rule is not None and rule.threshold is None and data.get("threshold") is not None:
            self.add_error("threshold", f"{rule.title} has no threshold to change.")
        return data
