"""Device authorization grant (RFC 8628) pages, translated and with user-code entry limited."""

from __future__ import annotations

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_device_grant_model
from oauth2_provider.views import DeviceConfirmView as BaseDeviceConfirmView
from oauth2_provider.views import DeviceUserCodeView as BaseDeviceUserCodeView
from oauth2_provider.views.device import DeviceGrantForm

from idp import interstitials
from idp.oauth.clients import client_get

MESSAGES = {
    "incorrect_user_code": _("That code is not right. Check the code shown on the device."),
    "expired_user_code": _("That code has expired. Start again on the device."),
    "user_code_already_used": _("That code has already been used."),
}
ATTEMPTS_PER_10_MINUTES = 10  # RFC 8628 §5.1: user codes are short, so guessing must be limited


class DeviceUserCodeForm(DeviceGrantForm):
    user_code = forms.CharField(label=_("Code shown on the device"), max_length=32, strip=True)

    def clean_user_code(self):
        try:
            return super().clean_user_code()
        except ValidationError as error:
            raise ValidationError(MESSAGES.get(error.code, error.message), code=error.code) from None


class DeviceUserCodeView(BaseDeviceUserCodeView):
    form_class = DeviceUserCodeForm

    def post(self, request, *args, **kwargs):
        key = f"device-code-attempts:{request.user.pk}"
        attempts = cache.get_or_set(key, 0, timeout=600)
        if attempts >= ATTEMPTS_PER_10_MINUTES:
            form = self.get_form()
            form.is_valid()
            form.errors.clear()
            form.add_error(None, _("Too many attempts. Wait a few minutes and try again."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form was shown again: a wrong code
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=600)
        return response


class DeviceConfirmView(BaseDeviceConfirmView):
    """Approving a device passes the same interstitials as ``/authorize`` (re-consent to changed terms, ...).

    A pending interstitial sends the member to its page with ``next`` = this confirmation page;
    one that answers with an error (the member declined) denies the device, whose next poll
    then gets ``access_denied`` (RFC 8628 §3.5).
    """

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            client = client_get(kwargs.get("client_id", ""))
            interstitial = client and interstitials.pending_interstitial(request, request.user, client)
            if interstitial:
                if interstitial.url is not None:
                    return HttpResponseRedirect(interstitials.redirect_url(interstitial, request.get_full_path()))
                model = get_device_grant_model()
                model.objects.filter(
                    client_id=kwargs["client_id"],
                    user_code=kwargs.get("user_code", ""),
                    status=model.AUTHORIZATION_PENDING,
                    user=request.user,
                ).update(status=model.DENIED)
                return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)
