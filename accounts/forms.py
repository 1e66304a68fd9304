from __future__ import annotations

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password

from accounts.roles import ROLES
from clusters.models import Cluster

ROLE_CHOICES = [(r, r) for r in ROLES]


class NewUserForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]{1,150}$", max_length=150)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that name already exists.")
        return username

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ClusterAccessForm(forms.Form):
    clusters = forms.ModelMultipleChoiceField(
        queryset=Cluster.objects.only("id", "name"), required=False, widget=forms.CheckboxSelectMultiple
    )
