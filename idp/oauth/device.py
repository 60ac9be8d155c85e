"""Device authorization grant (RFC 8628) pages, translated and with user-code entry limited."""

from __future__ import annotations

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from oauth2_provider.views import DeviceUserCodeView as BaseDeviceUserCodeView
from oauth2_provider.views.device import DeviceGrantForm

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
