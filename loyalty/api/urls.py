"""Mounted at /api/v1/loyalty/ in the ``loyalty_api`` namespace."""

from __future__ import annotations

from django.urls import path

from loyalty.api import views

app_name = "loyalty_api"

urlpatterns = [
    path("programs/<slug:program>/earn", views.earn, name="earn"),
    path("programs/<slug:program>/reversals", views.reversal, name="reversals"),
    path("programs/<slug:program>/redemptions", views.redemption, name="redemptions"),
    path("programs/<slug:program>/me", views.me, name="me"),
    path("programs/<slug:program>/me/entries", views.entries, name="entries"),
    path("openapi.json", views.openapi_json, name="openapi"),
    path("docs", views.docs, name="docs"),
]
