"""A second Django request handler for the machine-to-machine endpoints.

Relying parties and resource servers call ``/token``, ``/introspect``, ``/revoke``, ``/userinfo``,
``/device_authorization``, the JWKS and discovery many times per login. None of them uses a session,
a CSRF cookie, messages, allauth's or django-otp's middleware, or the account protection that
watches browser sessions: they authenticate the client or the bearer token on every request.
Running them through the whole browser middleware chain cost a third of a client-credentials
grant (docs/benchmarks.md). The same holds for our JSON APIs under ``/api/``: every request
carries a bearer token (``idp.api.api_view``), none reads a session or needs CSRF protection.
This handler serves those paths with ``IDP_PROTOCOL_MIDDLEWARE``; every other path, and the
HTML pages under ``/api/`` (the API documentation renders the site's templates with the
session's language and CSRF token), goes through ``MIDDLEWARE`` as before.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

PROTOCOL_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "idp.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "idp.handlers.AnonymousUserMiddleware",
]

PROTOCOL_PATHS = frozenset(
    {
        "/token",
        "/introspect",
        "/revoke",
        "/userinfo",
        "/device_authorization",
        "/healthz",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    }
)

# Every path under these prefixes is a protocol path too, except the pages below.
PROTOCOL_PREFIXES = ("/api/",)
PAGES_UNDER_PROTOCOL_PREFIXES = frozenset({"/api/v1/loyalty/docs"})


class AnonymousUserMiddleware:
    """No session here: ``request.user`` is anonymous; views authenticate clients and tokens."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = AnonymousUser()
        return self.get_response(request)


class ProtocolHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(getattr(settings, "IDP_PROTOCOL_MIDDLEWARE", PROTOCOL_MIDDLEWARE)):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class Dispatcher:
    """The WSGI application: protocol paths to :class:`ProtocolHandler`, the rest to Django's."""

    def __init__(self) -> None:
        self.pages = WSGIHandler()
        self.protocol = ProtocolHandler()
        self.paths = frozenset(getattr(settings, "IDP_PROTOCOL_PATHS", PROTOCOL_PATHS))
        self.prefixes = tuple(getattr(settings, "IDP_PROTOCOL_PREFIXES", PROTOCOL_PREFIXES))
        self.page_paths = frozenset(
            getattr(settings, "IDP_PAGES_UNDER_PROTOCOL_PREFIXES", PAGES_UNDER_PROTOCOL_PREFIXES)
        )

    def is_protocol(self, path: str) -> bool:
        if path in self.paths:
            return True
        return path.startswith(self.prefixes) and path not in self.page_paths

    def __call__(self, environ, start_response):
        handler = self.protocol if self.is_protocol(environ.get("PATH_INFO", "")) else self.pages
        return handler(environ, start_response)
