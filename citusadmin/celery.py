"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citusadmin.settings")

app = Celery("citusadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Heartbeats: every worker and beat process writes one (the console shows when none is running).
import jobs.heartbeat  # noqa: E402,F401
