"""List filters as Django forms: real labels, and a bad value is ignored (that filter only), never a 500.

A ``FilterForm`` binds the query string at once; ``value(name)`` is the cleaned value of a field that
is valid (else the default). ``choices`` fills choice fields whose options come from the database,
with an "all" option first. ``templates/_filters.html`` draws any of them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest


class FilterForm(forms.Form):
    def __init__(self, request: HttpRequest, choices: dict[str, list[tuple[Any, str]]] | None = None) -> None:
        super().__init__(request.GET)
        for name, field in self.fields.items():
            field.required = False
            if choices and name in choices:
                everything = f"all {str(field.label).lower()}s"
                field.choices = [("", everything), *choices[name]]  # type: ignore[attr-defined]
        self.is_valid()  # cleaned_data holds the fields that are valid

    def value(self, name: str, default: Any = None) -> Any:
        value = self.cleaned_data.get(name)
        return default if value in (None, "") else value
