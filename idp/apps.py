from django.apps import AppConfig


class IdpConfig(AppConfig):
    name = "idp"
    verbose_name = "Identity provider"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from idp import preferences
        from idp.models import Client
        from idp.oauth.clients import client_cache_clear

        post_save.connect(client_cache_clear, sender=Client, dispatch_uid="idp-client-cache-save")
        post_delete.connect(client_cache_clear, sender=Client, dispatch_uid="idp-client-cache-delete")
        preferences.register()

        from idp.config_io import register_section
        from idp.config_io.provider import ClientsSection, ScopesSection

        register_section(ClientsSection())
        register_section(ScopesSection())
