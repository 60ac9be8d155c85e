"""allauth's password reset by code, for members whose imported password hash is too weak to sign
in with (``accounts.services.weak_password_renewal_start``). Reset by link stays the default for
everyone else; with ``ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED`` allauth routes these views itself."""

from allauth.account import app_settings, views
from django.urls import path

urlpatterns = []
if not app_settings.PASSWORD_RESET_BY_CODE_ENABLED:
    urlpatterns = [
        path("confirm/", views.confirm_password_reset_code, name="account_confirm_password_reset_code"),
        path("complete/", views.complete_password_reset, name="account_complete_password_reset"),
        path("done/", views.password_reset_from_key_done, name="account_password_reset_completed"),
    ]
