from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self):
        # The outbox lives in a sub-package: register its Celery tasks and admin pages.
        from consent.outbox import admin as _outbox_admin  # noqa: F401
        from consent.outbox import tasks as _outbox_tasks  # noqa: F401
