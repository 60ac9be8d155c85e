from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and privacy")

    def ready(self) -> None:
        # Legal documents: the admin, and the re-consent interstitial on the way to /authorize.
        from consent import preferences
        from consent.legal import admin as _legal_admin  # noqa: F401
        from consent.legal.stages import reconsent_interstitial

        # The outbox and the privacy jobs live in sub-packages: register their tasks and admin.
        from consent.outbox import admin as _outbox_admin  # noqa: F401
        from consent.outbox import tasks as _outbox_tasks  # noqa: F401
        from consent.privacy import registry
        from consent.privacy import tasks as _privacy_tasks  # noqa: F401

        # Purposes: the admin, the ``consents`` claim and the scopes of the consent API.
        from consent.purposes import admin as _purposes_admin  # noqa: F401
        from consent.purposes import claims as _purposes_claims  # noqa: F401
        from idp.interstitials import register_interstitial
        from idp.oauth.scopes import register_scope

        preferences.register()
        register_interstitial(reconsent_interstitial)
        registry.autodiscover()  # every app's privacy plan (``<app>/privacy.py``)
        register_scope("consents", _("Your privacy choices (what you agreed to be contacted about)"))
        register_scope("consents:write", _("Change your privacy choices"))
        # Configuration export/import: legal documents and purposes (docs/config.md).
        from consent.legal.config_io import LegalDocumentsSection
        from consent.purposes.config_io import PurposesSection
        from idp.config_io import register_section

        register_section(LegalDocumentsSection())
        register_section(PurposesSection())
        register_scope("consents:audience", _("List the members who agreed to be contacted (marketing systems)"))
