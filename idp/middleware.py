from __future__ import annotations

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.urls import reverse
from django.utils import translation

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """Hosted pages cannot be framed and load nothing from third parties."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Referrer-Policy", "no-referrer")
        response.setdefault("X-Content-Type-Options", "nosniff")
        return response


class UiLocalesMiddleware:
    """OIDC Core §3.1.2.1 ``ui_locales``: the RP's preferred languages win over the browser's.

    Read from the authorization request; the chosen language goes into the language cookie,
    so the login and consent pages that follow use it until the member switches language.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}
        self.authorize_path = reverse("oauth2_provider:authorize")

    def __call__(self, request):
        chosen = None
        tags = request.GET.get("ui_locales", "").split() if request.path == self.authorize_path else []
        for tag in tags:
            lang = tag.split("-")[0].lower()
            if lang in self.supported:
                chosen = lang
                break
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


class CsrfViewMiddleware(DjangoCsrfViewMiddleware):
    """Django's CSRF protection, compatible with ``Referrer-Policy: no-referrer``.

    Under that policy browsers send ``Origin: null`` with every form POST, even to the same
    origin, and Django's origin check refuses it. For such a request we accept the origin
    when the browser's Fetch Metadata says the request is same-origin (``Sec-Fetch-Site``
    cannot be set by scripts); a cross-site or sandboxed post still fails. The CSRF token
    check and the SameSite cookie apply as before.
    """

    def _origin_verified(self, request) -> bool:
        if request.META.get("HTTP_ORIGIN") == "null":
            return request.META.get("HTTP_SEC_FETCH_SITE") == "same-origin"
        return super()._origin_verified(request)
