"""Input guard in front of the protocol endpoints.

oauthlib raises ``ValueError`` on query strings it cannot decode, and PostgreSQL refuses
strings with NUL characters; both would surface as a 500. Such requests get the error the
spec names instead: an error page at the authorization endpoint (nothing is known to be
safe to redirect to), JSON ``invalid_request`` elsewhere.
"""

from __future__ import annotations

import base64
import binascii
from functools import wraps

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from oauthlib.common import urldecode

MAX_PARAM_LENGTH = 8192
BAD_BASIC = "Malformed Basic credentials."  # JSON only (token endpoint clients), not translated


def _problem(request) -> str | None:
    try:
        urldecode(request.META.get("QUERY_STRING", ""))
    except ValueError:
        return _("The request could not be read.")
    for source in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
        for key, values in source.lists():
            for value in [key, *values]:
                if "\x00" in value:
                    return _("The request contains characters that are not allowed.")
                if len(value) > MAX_PARAM_LENGTH:
                    return _("A parameter of the request is too long.")
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("Basic "):
        try:
            decoded = base64.b64decode(auth[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return BAD_BASIC
        if "\x00" in decoded:
            return BAD_BASIC
    return None


def protocol_guard(view, *, page: bool = False):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        problem = _problem(request)
        if problem is None:
            return view(request, *args, **kwargs)
        if page:
            error = {"error": "invalid_request", "description": problem}
            return render(request, "idp/authorize.html", {"error": error}, status=400)
        status = 401 if problem == BAD_BASIC else 400
        code = "invalid_client" if status == 401 else "invalid_request"
        return JsonResponse({"error": code, "error_description": str(problem)}, status=status)

    return wrapper
