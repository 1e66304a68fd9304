"""Long-running actions as Celery tasks with live progress that survives failures."""
