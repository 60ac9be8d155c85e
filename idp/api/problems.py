"""RFC 9457 problem details and the one domain exception every app raises."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

PROBLEM_BASE = "urn:ciam:problem:"


class DomainError(Exception):
    """A rule said no. ``code`` is stable (it is the problem ``type``); ``title`` is translated.

    Services raise it; views, the API decorator and admin actions turn it into a response.
    """

    status: int = 400
    code: str = "invalid_request"
    title = _("The request is not valid.")

    def __init__(self, *, code: str | None = None, title=None, detail=None, status: int | None = None, **extra):
        self.code = code or self.code
        self.title = title or self.title
        self.detail = detail
        self.status = status or self.status
        self.extra = extra
        super().__init__(str(self.detail or self.title))

    def response(self, request=None) -> JsonResponse:
        return problem_response(
            status=self.status, code=self.code, title=self.title, detail=self.detail, request=request, **self.extra
        )


def problem_response(*, status: int, code: str, title, detail=None, request=None, **extra) -> JsonResponse:
    body = {"type": PROBLEM_BASE + code, "code": code, "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    if request is not None:
        body["instance"] = request.path
    body.update({k: v for k, v in extra.items() if v is not None})
    response = JsonResponse(body, status=status, content_type="application/problem+json")
    response["Cache-Control"] = "no-store"
    return response
