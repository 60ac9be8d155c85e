from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import claims, preferences, receivers  # noqa: F401
        from accounts.phone import tasks as _phone_tasks  # noqa: F401
        from accounts.security import receivers as security_receivers  # noqa: F401

        self._profile_attributes_ready()
        preferences.register()

    @staticmethod
    def _profile_attributes_ready() -> None:
        """Profile attributes: the admin, a scope and a claim per attribute group, the sign-in question."""
        from accounts.profile import admin as _profile_admin  # noqa: F401
        from accounts.profile import claims as profile_claims
        from accounts.profile.interstitial import progressive_profile_interstitial
        from idp.interstitials import register_interstitial

        profile_claims.register()
        register_interstitial(progressive_profile_interstitial)

        from accounts.profile.config_io import ProfileAttributesSection
        from idp.config_io import register_section

        register_section(ProfileAttributesSection())
