"""Long-running actions as Celery tasks with live progress (issue 5). Not built yet."""
