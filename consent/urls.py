"""The member's privacy pages, mounted at /account/privacy/."""

from __future__ import annotations

from consent.purposes import urls as purposes_urls

app_name = "consent"

urlpatterns = [
    *purposes_urls.urlpatterns,
]
