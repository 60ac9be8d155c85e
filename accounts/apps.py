from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import claims, receivers  # noqa: F401
        from accounts.security import receivers as security_receivers  # noqa: F401
