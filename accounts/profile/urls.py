"""Mounted at /account/profile/ in the ``accounts`` namespace."""

from __future__ import annotations

from django.urls import path

from accounts.profile import views

urlpatterns = [
    path("attributes", views.attributes, name="profile_attributes"),
    path("name", views.name, name="profile_name"),
    path("question", views.question, name="profile_question"),
]
