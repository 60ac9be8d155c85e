"""Linked accounts and account linking; mounted under /account/social/ in namespace ``accounts``."""

from __future__ import annotations

from django.urls import path

from accounts.social import views

urlpatterns = [
    path("", views.connections, name="social_connections"),
    path("<int:pk>/unlink", views.unlink, name="social_unlink"),
    path("link/", views.link, name="social_link"),
    path("link/code", views.link_code_send, name="social_link_code_send"),
    path("link/code/verify", views.link_code_verify, name="social_link_code_verify"),
    path("link/other-email", views.link_decline, name="social_link_decline"),
    path("link/cancel", views.link_cancel, name="social_link_cancel"),
]
