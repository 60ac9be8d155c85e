"""Member pages, mounted at /account/loyalty/ in the ``loyalty`` namespace."""

from __future__ import annotations

from django.urls import path

from loyalty import views

app_name = "loyalty"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("<slug:program>/join", views.join, name="join"),
    path("<slug:program>/", views.statement, name="statement"),
    path("<slug:program>/redeem", views.redeem, name="redeem"),
]
