"""The project's URLs with accounts.social mounted at /account/social/ (namespace ``accounts``).

Used by these tests until idp/accounts URLs include ``accounts.social.urls`` themselves; once
they do, this is the project's URLconf unchanged.
"""

from __future__ import annotations

from django.urls import URLResolver, include, path

from accounts import urls as accounts_urls
from idp import urls as root_urls


def _names(resolver) -> set[str]:
    conf = resolver.urlconf_name
    return {conf if isinstance(conf, str) else getattr(conf, "__name__", "")}


MOUNTED = any(
    isinstance(p, URLResolver) and "accounts.social.urls" in _names(p) for p in accounts_urls.urlpatterns
)

if MOUNTED:
    urlpatterns = list(root_urls.urlpatterns)
else:
    _accounts = [*accounts_urls.urlpatterns, path("social/", include("accounts.social.urls"))]
    urlpatterns = [
        path("account/", include((_accounts, "accounts")))
        if isinstance(p, URLResolver) and p.namespace == "accounts"
        else p
        for p in root_urls.urlpatterns
    ]
