from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self) -> None:
        # Legal documents: the admin, and the re-consent interstitial on the way to /authorize.
        from consent.legal import admin as _legal_admin  # noqa: F401
        from consent.legal.stages import reconsent_interstitial

        # The outbox and the privacy jobs live in sub-packages: register their tasks and admin.
        from consent.outbox import admin as _outbox_admin  # noqa: F401
        from consent.outbox import tasks as _outbox_tasks  # noqa: F401
        from consent.privacy import registry
        from consent.privacy import tasks as _privacy_tasks  # noqa: F401
        from idp.interstitials import register_interstitial

        register_interstitial(reconsent_interstitial)
        registry.autodiscover()  # every app's privacy plan (``<app>/privacy.py``)
