"""``/api/v1/profile/``: a member's attributes for the relying party holding their access token.

``GET attributes``: the attributes this client may read under the token's attribute scopes
(missing ones as ``null``; values that no longer fit their definition listed in ``flags``).
``PATCH attributes`` with ``{"attributes": {"diet": "vegan", "pet": null}}``: set or remove
(``null``) attributes the client may write; all or nothing. Problems (RFC 9457): 400
``unknown_attribute``, 403 ``attribute_not_writable`` / ``insufficient_scope``, 422
``invalid_attribute_values`` with ``errors`` per attribute, 409 ``definition_changed``; a
client-credentials token is refused (403): these are one member's data.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from accounts.profile import selectors, services
from accounts.profile.validation import value_status
from idp.api import DomainError, api_view, problem_response

app_name = "profile_api"


def _attribute_scopes(request) -> list[str]:
    return sorted(set(request.access_token.scope.split()) & set(selectors.attribute_scopes()))


def _insufficient_scope(request):
    scopes = sorted(selectors.attribute_scopes())
    response = problem_response(
        status=403,
        code="insufficient_scope",
        title=_("The access token carries none of the attribute scopes."),
        request=request,
        scopes=scopes,
    )
    response["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}"'
    return response


def _readable(request, scopes) -> JsonResponse:
    access = selectors.client_access(client=request.client, scopes=scopes)
    readable = {key: a.definition for key, a in access.items() if a.can_read}
    data = selectors.member_data(request.member) if readable else {}
    flags = {key: value_status(d, data[key]) for key, d in readable.items() if key in data}
    return JsonResponse(
        {
            "sub": str(request.member.sub),
            "attributes": {key: data.get(key) for key in readable},
            "flags": {key: flag for key, flag in flags.items() if flag},
        }
    )


@api_view(methods=["GET", "PATCH"], member_only=True)
def attributes(request):
    scopes = _attribute_scopes(request)
    if not scopes:
        return _insufficient_scope(request)
    if request.method == "PATCH":
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("attributes"), dict) or not body["attributes"]:
            raise DomainError(
                code="invalid_request",
                title=_('Send {"attributes": {...}} with at least one attribute.'),
            )
        services.profile_attributes_update(
            user=request.member,
            values=body["attributes"],
            source=services.SOURCE_API,
            client=request.client,
            scopes=scopes,
        )
    return _readable(request, scopes)


urlpatterns = [path("attributes", attributes, name="attributes")]
