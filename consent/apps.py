from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and privacy")

    def ready(self) -> None:
        from consent.purposes import admin, claims  # noqa: F401
        from idp.oauth.scopes import register_scope

        register_scope("consents", _("Your privacy choices (what you agreed to be contacted about)"))
        register_scope("consents:write", _("Change your privacy choices"))
        register_scope("consents:audience", _("List the members who agreed to be contacted (marketing systems)"))
