from __future__ import annotations

from allauth.account.signals import authentication_step_completed
from django.dispatch import receiver

from accounts import services


@receiver(authentication_step_completed)
def on_authentication_step(sender, request, user, method, **kwargs):
    if request is not None and hasattr(request, "session"):
        services.reauthentication_note(request=request)
