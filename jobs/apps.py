from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.core.checks import register

        from citusadmin.checks import audit_actions_declared, job_kinds_complete, permissions_declared

        register(permissions_declared)
        register(job_kinds_complete)
        register(audit_actions_declared)
