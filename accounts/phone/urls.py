"""Mounted at /account/phone/ in the ``accounts`` namespace."""

from __future__ import annotations

from django.urls import path

from accounts.phone import views

urlpatterns = [
    path("", views.phone_change, name="phone_change"),
    path("verify", views.phone_verify, name="phone_verify"),
    path("remove", views.phone_remove, name="phone_remove"),
]
