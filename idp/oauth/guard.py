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
from oauthlib.common import urldecode

MAX_PARAM_LENGTH = 8192


def _problem(request) -> str | None:
    try:
        urldecode(request.META.get("QUERY_STRING", ""))
    except ValueError:
        return "The query string is not valid application/x-www-form-urlencoded data."
    for source in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
        for key, values in source.lists():
            for value in [key, *values]:
                if "\x00" in value:
                    return "Parameters may not contain NUL characters."
                if len(value) > MAX_PARAM_LENGTH:
                    return "A parameter is too long."
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("Basic "):
        try:
            decoded = base64.b64decode(auth[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "Malformed Basic credentials."
        if "\x00" in decoded:
            return "Malformed Basic credentials."
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
        status = 401 if problem.startswith("Malformed Basic") else 400
        code = "invalid_client" if status == 401 else "invalid_request"
        return JsonResponse({"error": code, "error_description": problem}, status=status)

    return wrapper
