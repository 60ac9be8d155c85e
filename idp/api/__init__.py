"""Shared plumbing for our JSON APIs (consent, loyalty, profile): RFC 9457 problem details and
bearer-token authentication with scopes (RFC 6750).

A view::

    from idp.api import api_view, DomainError

    @api_view(methods=["POST"], scopes=["loyalty:earn"])
    def earn(request):
        body = request.json            # parsed JSON object (400 problem if malformed)
        request.client, request.member # the token's client; the member, or None for client credentials
        request.member_id              # the member's id without loading the member
        request.access_token           # DOT AccessToken (the columns views use loaded, the rest deferred)
        raise DomainError(code="insufficient_points", title=_("Not enough points"), status=409)
        return JsonResponse({...})

Every error the decorator or the view raises is an ``application/problem+json`` response.
"""

from idp.api.auth import api_view
from idp.api.problems import DomainError, problem_response

__all__ = ["DomainError", "api_view", "problem_response"]
