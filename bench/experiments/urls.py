"""idp.urls with the views of fixes ``signal`` (token) and ``anon_session`` (authorize)."""

from django.urls import path

from bench.experiments.fixes import FastAuthorizeView, FastTokenView
from idp.oauth.guard import protocol_guard
from idp.urls import urlpatterns as base

urlpatterns = [
    path("authorize", protocol_guard(FastAuthorizeView.as_view(), page=True)),
    path("token", protocol_guard(FastTokenView.as_view())),
    *base,
]
