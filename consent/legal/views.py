"""Legal pages: the documents (public), the acceptance interstitial, the refusal page, and the
member's record of what they accepted. Thin: they unpack input and call services."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.internal.stagekit import clear_login
from allauth.account.stages import LoginStageController
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from accounts.security import geo
from consent.legal import selectors, services
from consent.legal.forms import AcceptForm
from consent.legal.stages import SESSION_DECLINED, ReconsentStage
from consent.models import LegalAcceptance

Channel = LegalAcceptance.Channel


def _safe_next(request: HttpRequest) -> str | None:
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def _documents(versions, language: str) -> list[dict]:
    return [{"version": v, "text": selectors.text_for(v, language)} for v in versions]


@never_cache
def accept(request: HttpRequest) -> HttpResponse:
    """Accept the current versions, or decline them.

    In a login (the :class:`ReconsentStage`): the member is not signed in yet; accepting
    resumes the login, declining ends it. Signed in (an ``/authorize`` interstitial, or from
    the account pages): accepting returns to ``next``.
    """
    stage = LoginStageController.enter(request, ReconsentStage.key)
    if stage is not None:
        user, nxt = stage.login.user, stage.login.redirect_url
    elif request.user.is_authenticated:
        user, nxt = request.user, _safe_next(request)
    else:
        return redirect_to_login(request.get_full_path())
    client = selectors.client_from_next(nxt)
    channel = Channel.LOGIN if stage is not None else (Channel.SSO if client else Channel.ACCOUNT)

    pending = selectors.pending_versions(user)
    if not pending:  # accepted meanwhile (another tab, a double submit)
        return stage.exit() if stage is not None else HttpResponseRedirect(nxt or reverse("legal:mine"))

    status = 200
    if request.method == "POST" and request.POST.get("action") == "decline":
        services.legal_decline(user=user, versions=pending, client=client, request=request)
        if stage is not None:
            clear_login(request)
        if client is not None and nxt:
            request.session[SESSION_DECLINED] = nxt
        return HttpResponseRedirect(reverse("legal:declined") + ("?" + urlencode({"next": nxt}) if nxt else ""))
    if request.method == "POST":
        form = AcceptForm(request.POST, pending=pending)
        if form.is_valid():
            services.legal_accept(
                user=user,
                versions=pending,
                language=form.cleaned_data["language"],
                channel=channel,
                client=client,
                ip=geo.client_ip(request),
                user_agent=geo.user_agent(request),
            )
            request.session.pop(SESSION_DECLINED, None)
            return stage.exit() if stage is not None else HttpResponseRedirect(nxt or reverse("legal:mine"))
        status = 400
    else:
        form = AcceptForm(pending=pending, initial={"language": translation.get_language()})
    context = {
        "form": form,
        "documents": _documents(pending, translation.get_language()),
        "client": client,
        "next": nxt,
        "in_login": stage is not None,
        "reconsent": selectors.acceptances_for(user=user).exists(),
    }
    return render(request, "consent/legal/accept.html", context, status=status)


@never_cache
def declined(request: HttpRequest) -> HttpResponse:
    """What declining did, and the ways on: accept after all, go back to the site, sign out."""
    nxt = _safe_next(request)
    client = selectors.client_from_next(nxt)
    if request.user.is_authenticated:
        again = reverse("legal:accept") + ("?" + urlencode({"next": nxt}) if nxt else "")
    else:
        again = reverse("account_login") + ("?" + urlencode({"next": nxt}) if nxt else "")
    context = {"client": client, "next": nxt, "again_url": again}
    return render(request, "consent/legal/declined.html", context)


def document(request: HttpRequest, slug: str, version: str | None = None) -> HttpResponse:
    """A published document in the page's language (English when it has no such text); public."""
    shown = selectors.published_version(slug, version) if version else selectors.current_version(slug)
    if shown is None:
        raise Http404
    text = selectors.text_for(shown, translation.get_language())
    if text is None:
        raise Http404
    current = shown if version is None else selectors.current_version(slug)
    context = {
        "version": shown,
        "text": text,
        "is_current": current is not None and current.pk == shown.pk,
        "current": current,
    }
    return render(request, "consent/legal/document.html", context)


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The member's record: every version they accepted (when, where), and what awaits them."""
    language = translation.get_language()
    acceptances = selectors.acceptances_for(user=request.user).prefetch_related("version__texts")
    context = {
        "acceptances": [
            {"acceptance": a, "title": getattr(selectors.text_for(a.version, language), "title", a.version.document)}
            for a in acceptances
        ],
        "pending": _documents(selectors.pending_versions(request.user), language),
    }
    return render(request, "consent/legal/mine.html", context)
