"""The second step of every login (password, social, emailed code), as an allauth login stage."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.stages import LoginStage
from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts.mfa import selectors

VERIFY = "verify"
ENROL = "enrol"


class SecondFactorStage(LoginStage):
    """Ask for a second factor after the first one, or for enrolment where one is required.

    Runs when the member has an authenticator app or a passkey, when the relying party, the
    client or the member's policy requires MFA (:func:`accounts.mfa.selectors.login_required_acr`),
    or when an earlier stage set ``login.state["require_second_factor"]``. A passwordless
    passkey sign-in already is multi-factor and skips it.

    ``state``: ``mode`` (verify or enrol), ``required`` (the acr asked for), ``methods``.
    """

    key = "idp_second_factor"
    urlname = "accounts:mfa_authenticate"

    def handle(self):
        user = self.login.user
        if user is None:
            return None, True
        if selectors.used_passkey_since(self.request, user, self.login.initiated_at):
            return None, True
        required = selectors.login_required_acr(self.login)
        if not selectors.needs_second_factor(required) and not selectors.has_strong_factor(user):
            return None, True
        factors = selectors.factors_for(user)
        if not factors.has_strong_factor and not selectors.needs_second_factor(required):
            return None, True
        methods = selectors.second_factor_methods(user, required_acr=required, factors=factors)
        if not methods and required == selectors.ACR_PHISHING_RESISTANT and factors.has_strong_factor:
            # Prove the factor the member has first; the step-up that follows asks for a passkey.
            methods = selectors.second_factor_methods(user, factors=factors)
        self.state.update({"mode": VERIFY if methods else ENROL, "required": required, "methods": methods})
        url = reverse("accounts:mfa_authenticate" if methods else "accounts:mfa_enrol")
        if self.login.redirect_url:
            # Only for the page's branding (the RP's name and colours); never redirected to.
            url += "?" + urlencode({"next": self.login.redirect_url})
        return HttpResponseRedirect(url), True
