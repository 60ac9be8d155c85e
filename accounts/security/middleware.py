"""Account protection on every request: session activity, the credential-stuffing bar,
"too many attempts" events and stale email links.

Install after ``allauth.account.middleware.AccountMiddleware`` (it needs the session, the
user and the resolved URL)::

    "accounts.security.middleware.AccountProtectionMiddleware",
"""

from __future__ import annotations

from allauth.core.internal.ratelimit import respond_429
from django.contrib.auth import logout

from accounts.security import selectors, services

LOGIN_VIEWS = {"account_login"}
# allauth's form error when the per-account failed-login limit is reached.
LOGIN_THROTTLED_CODE = "too_many_login_attempts"
EXPIRED_LINK_KEY = "expired"


def _url_name(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.url_name if match else None


def _posted_login(request) -> str:
    return (request.POST.get("login") or request.POST.get("email") or "").strip()[:254]


def _form_error_codes(response) -> set[str]:
    context = getattr(response, "context_data", None) or {}
    form = context.get("form")
    if form is None or not form.is_bound:
        return set()
    return {error.code for errors in form.errors.as_data().values() for error in errors if error.code}


class AccountProtectionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not services.session_seen(request=request):
            logout(request)  # the session was ended from another browser
        response = self.get_response(request)
        if user is not None and request.user.is_authenticated:
            services.session_rekey(request=request)
        self._note_throttling(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = _url_name(request)
        if name in LOGIN_VIEWS and request.method == "POST":
            if not services.suspect_login_allowed(request=request, login=_posted_login(request)):
                request._security_throttle_recorded = True
                return respond_429(request)
        elif name == "account_confirm_email" and "key" in view_kwargs:
            if not selectors.email_link_is_current(view_kwargs["key"]):
                view_kwargs["key"] = EXPIRED_LINK_KEY  # allauth then answers as for an expired link
        return None

    @staticmethod
    def _note_throttling(request, response) -> None:
        if request.method != "POST" or getattr(request, "_security_throttle_recorded", False):
            return
        name = _url_name(request)
        if response.status_code == 429:
            action = name or "unknown"
        elif name in LOGIN_VIEWS and LOGIN_THROTTLED_CODE in _form_error_codes(response):
            action = "login_failed"
        else:
            return
        login = _posted_login(request)
        user = request.user if request.user.is_authenticated else selectors.user_for_login(login)
        services.throttle_record(request=request, action=action, user=user)
