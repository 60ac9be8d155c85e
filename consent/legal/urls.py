"""Legal pages. Included at the site root: /legal/... (public and interstitial), /account/privacy/legal."""

from django.urls import path

from consent.legal import views

app_name = "legal"

urlpatterns = [
    path("legal/accept", views.accept, name="accept"),
    path("legal/declined", views.declined, name="declined"),
    path("legal/<slug:slug>", views.document, name="document"),
    path("legal/<slug:slug>/<str:version>", views.document, name="document_version"),
    path("account/privacy/legal", views.mine, name="mine"),
]
