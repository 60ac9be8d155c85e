from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self) -> None:
        from consent.privacy import registry
        from consent.privacy import tasks as privacy_tasks  # noqa: F401 - registers the tasks with Celery

        registry.autodiscover()  # every app's privacy plan (``<app>/privacy.py``)
