"""Where a member with documents to accept is stopped: at login, and on the way to an RP.

- :class:`ReconsentStage`, an allauth login stage (after the second factor): every login on our
  pages, through an RP or not, by password, passkey, social account or emailed code, and the
  sign-ups that did not go through our form (passkey, social), stops here until the member
  accepts. The member is not signed in before accepting; declining ends the login.
- :func:`reconsent_interstitial`, an :mod:`idp.interstitials` check: a member already signed in
  (SSO) asked for a code by any RP after a material change.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.stages import LoginStage
from django.http import HttpResponseRedirect
from django.urls import reverse

from consent.legal import selectors
from idp.interstitials import Interstitial

# The /authorize request the member declined at the interstitial: answered access_denied once.
SESSION_DECLINED = "legal_declined_request"


class ReconsentStage(LoginStage):
    key = "consent_legal"
    urlname = "legal:accept"

    def handle(self):
        user = self.login.user
        if user is None or not selectors.pending_version_ids(user):
            return None, True
        url = reverse(self.urlname)
        if self.login.redirect_url:
            url += "?" + urlencode({"next": self.login.redirect_url})  # for branding; resumed via the stage
        return HttpResponseRedirect(url), True


def reconsent_interstitial(request, user, client) -> Interstitial | None:
    if request.method == "GET" and request.session.get(SESSION_DECLINED) == request.get_full_path():
        del request.session[SESSION_DECLINED]
        return Interstitial(
            url=None, error="access_denied", description="The member declined the updated legal documents."
        )
    if not selectors.pending_version_ids(user):
        return None
    return Interstitial(
        url=reverse("legal:accept"),
        error="consent_required",
        description="The member must accept updated legal documents.",
    )
