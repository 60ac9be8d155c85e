from __future__ import annotations

from django.urls import path

from accounts.security import views

urlpatterns: list = [
    path("events", views.events, name="security_events"),
    path("sessions", views.sessions, name="security_sessions"),
    path("sessions/<int:pk>/sign-out", views.session_revoke, name="security_session_revoke"),
    path("sessions/sign-out-others", views.sessions_revoke_others, name="security_sessions_revoke_others"),
    path("sessions/sign-out-everywhere", views.sign_out_everywhere, name="security_sign_out_everywhere"),
]
