from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from idp.oauth.clients import client_get

CLIENT_ID_SHAPE = re.compile(r"[A-Za-z0-9._~:-]{1,100}")


def _client_id_from(request) -> str | None:
    if request.GET.get("client_id"):
        return request.GET["client_id"]
    nxt = (request.POST.get("next") if request.method == "POST" else None) or request.GET.get("next")
    if nxt:
        values = parse_qs(urlsplit(nxt).query).get("client_id")
        if values:
            return values[0]
    return None


def branding(request) -> dict:
    """The relying party a login was started from: its name, logo and colour for the hosted pages."""
    client_id = _client_id_from(request)
    if not client_id or not CLIENT_ID_SHAPE.fullmatch(client_id):
        return {}
    client = client_get(client_id)
    return {"rp_client": client} if client else {}
