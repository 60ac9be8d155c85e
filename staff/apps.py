from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    """Staff roles, masking of members' personal data, break glass, the staff audit log and the
    single customer view. Cross-cutting by design: it reads every app through its models and
    selectors and changes none of them."""

    name = "staff"
    verbose_name = _("Staff")
    default_auto_field = "django.db.models.BigAutoField"
