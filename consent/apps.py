from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self) -> None:
        # Legal documents: the admin, and the re-consent interstitial on the way to /authorize.
        from consent.legal import admin as _legal_admin  # noqa: F401
        from consent.legal.stages import reconsent_interstitial
        from consent.privacy import registry
        from consent.privacy import tasks as privacy_tasks  # noqa: F401 - registers the tasks with Celery
        from idp.interstitials import register_interstitial

        register_interstitial(reconsent_interstitial)
        registry.autodiscover()  # every app's privacy plan (``<app>/privacy.py``)
