"""citusadmin: a web console for Citus clusters."""

from .celery import app as celery_app

__all__ = ("celery_app",)
