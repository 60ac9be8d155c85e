from __future__ import annotations

import mimetypes

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from idp import preferences, selectors, services
from idp.models import Client
from idp.oauth.clients import client_get

BACK_CLIENT_SESSION_KEY = "idp_preferences_client_id"


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The preference center: every app's sections, and a way back to the RP that sent the member.

    RPs link to ``{issuer}/account/?client_id=<their client_id>``; an unknown client id is ignored.
    """
    client_id = request.GET.get("client_id")
    if client_id and selectors.client_home_url(client_id) is not None:
        request.session[BACK_CLIENT_SESSION_KEY] = client_id
    back = selectors.client_home_url(request.session.get(BACK_CLIENT_SESSION_KEY))
    return render(
        request,
        "idp/home.html",
        {
            "sections": preferences.compose(request),
            "back_name": back[0] if back else None,
            "back_url": back[1] if back else None,
        },
    )


@login_required
def connected_apps(request: HttpRequest) -> HttpResponse:
    return render(request, "idp/apps.html", {"apps": selectors.client_authorizations_for(request.user)})


@login_required
@require_POST
def revoke_app(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    services.client_authorization_revoke(user=request.user, client=client)
    nxt = request.POST.get("next")
    if nxt in ("home", "account_home"):
        return redirect(nxt)
    return redirect("connected_apps")


def client_logo(request: HttpRequest, client_id: str) -> HttpResponse:
    client = client_get(client_id)
    if client is None or not client.logo:
        raise Http404
    content_type = mimetypes.guess_type(client.logo.name)[0] or "application/octet-stream"
    if content_type not in {"image/png", "image/jpeg", "image/svg+xml", "image/webp", "image/gif"}:
        raise Http404
    response = FileResponse(client.logo.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def client_theme(request: HttpRequest, client_id: str) -> HttpResponse:
    """The client's brand colour as a stylesheet (inline styles are barred by our CSP)."""
    client = client_get(client_id)
    if client is None:
        raise Http404
    response = HttpResponse(f":root{{--brand:{client.brand_color};}}\n", content_type="text/css")
    response["Cache-Control"] = "public, max-age=300"
    return response
