from django.apps import AppConfig


class SelfServiceConfig(AppConfig):
    name = "selfservice"
    verbose_name = "Self-service requests"

    def ready(self) -> None:
        from jobs.signals import job_finished
        from selfservice.notify import on_job_finished

        job_finished.connect(on_job_finished, dispatch_uid="selfservice.job_finished")
