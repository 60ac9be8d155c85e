from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and privacy"

    def ready(self):
        # Legal documents: the admin, and the re-consent interstitial on the way to /authorize.
        from consent.legal import admin as _legal_admin  # noqa: F401
        from consent.legal.stages import reconsent_interstitial
        from idp.interstitials import register_interstitial

        register_interstitial(reconsent_interstitial)
