"""URLs of purposes and consents: the member's page (under /account/privacy/) and the JSON API
(under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from consent.purposes import api, views

urlpatterns = [
    path("consents", views.consents, name="consents"),
]

api_urlpatterns = [
    path("consents", api.consents, name="consents"),
    path("consents/history", api.consent_history, name="consent_history"),
    path("consents/audience", api.audience, name="consent_audience"),
    path("consents/purposes/<str:code>", api.consent_put, name="consent_put"),
]
