from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from idp.oauth.scopes import register_scope
        from loyalty import (
            claims,  # noqa: F401  (registers the ``loyalty`` claims)
            preferences,
            programs,
        )
        from loyalty.models import Program, ProgramClient, Tier

        preferences.register()
        register_scope("loyalty", _("Your loyalty membership: member number, tier and points balance"))
        register_scope("loyalty:redeem", _("Spend your loyalty points"))
        register_scope("loyalty:earn", _("Credit loyalty points to members (partners)"))
        register_scope("loyalty:reverse", _("Reverse points a partner credited (partners)"))

        from idp.config_io import register_section
        from loyalty.config_io import ProgramsSection

        register_section(ProgramsSection())

        for model in (Program, Tier, ProgramClient):
            post_save.connect(programs.cache_clear, sender=model, dispatch_uid=f"loyalty-cache-{model.__name__}")
            post_delete.connect(programs.cache_clear, sender=model, dispatch_uid=f"loyalty-cache-del-{model.__name__}")
