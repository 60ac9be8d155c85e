"""Member pages: the attributes page and the sign-in question. Thin: forms validate, services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts.profile import selectors, services, validation
from accounts.profile.forms import AttributesForm, NameForm, QuestionForm
from accounts.profile.interstitial import mark_asked
from idp.api import DomainError


def _safe_next(request: HttpRequest) -> str | None:
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def _save(form, **kwargs) -> bool:
    """Call the service; its refusals become form errors (never a 500)."""
    try:
        services.profile_attributes_update(values=form.changes, **kwargs)
    except validation.AttributeValuesInvalid as invalid:
        for key, errors in invalid.field_errors.items():
            form.add_error(key if key in form.fields else None, errors)
        return False
    except DomainError as error:
        form.add_error(None, str(error.title))
        return False
    return True


@never_cache
@login_required
def attributes(request: HttpRequest) -> HttpResponse:
    """The member sees and edits their attributes, labels in the page's language."""
    definitions = selectors.definitions()
    current = selectors.member_data(request.user)
    status = 200
    if request.method == "POST":
        form = AttributesForm(request.POST, definitions=definitions, current=current)
        if form.is_valid() and _save(form, user=request.user, source=services.SOURCE_MEMBER):
            messages.success(request, _("Your answers are saved.") if form.changes else _("Nothing to change."))
            return redirect("accounts:profile_attributes")
        status = 400
    else:
        form = AttributesForm(definitions=definitions, current=current)
    flags = {key: validation.value_status(d, current[key]) for key, d in definitions.items() if key in current}
    fields = [{"field": form[key], "flag": flags.get(key)} for key in definitions]
    return render(request, "accounts/profile/attributes.html", {"form": form, "fields": fields}, status=status)


@never_cache
@login_required
def question(request: HttpRequest) -> HttpResponse:
    """One attribute a client asks for, on the way back to it: answer or skip, then ``next``."""
    nxt = _safe_next(request)
    client, scopes = selectors.authorization_request(nxt)
    if client is None:
        return redirect("accounts:profile_attributes")
    definition = selectors.next_question(user=request.user, client=client, scopes=scopes)
    if definition is not None:
        prefetch_related_objects([definition], "choices")
    offerable = definition is not None and (
        definition.data_type != "choice" or any(not c.retired for c in definition.choices.all())
    )
    if not offerable:  # answered meanwhile, or nothing to offer: never a dead end
        mark_asked(request, client)
        return HttpResponseRedirect(nxt)

    status = 200
    if request.method == "POST" and request.POST.get("action") == "skip":
        if request.POST.get("attribute") == definition.key:
            services.profile_question_skip(user=request.user, key=definition.key, client=client)
        mark_asked(request, client)
        return HttpResponseRedirect(nxt)
    if request.method == "POST":
        if request.POST.get("attribute") != definition.key:  # the question changed since the page was shown
            form = QuestionForm(definition=definition)
        else:
            form = QuestionForm(request.POST, definition=definition)
            if form.is_valid() and _save(form, user=request.user, source=services.SOURCE_PROGRESSIVE, client=client):
                mark_asked(request, client)
                return HttpResponseRedirect(nxt)
            status = 400
    else:
        form = QuestionForm(definition=definition)
    context = {"form": form, "field": form[definition.key], "definition": definition, "client": client, "next": nxt}
    return render(request, "accounts/profile/question.html", context, status=status)


@never_cache
@login_required
def name(request: HttpRequest) -> HttpResponse:
    """The member's name (what RPs asking for the ``profile`` scope receive)."""
    user = request.user
    initial = {field: getattr(user, field) for field in services.NAME_FIELDS}
    form = NameForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = services.profile_name_update(user=user, **form.cleaned_data)
        messages.success(request, _("Your name is saved.") if changed else _("Nothing to change."))
        return redirect("account_home")
    return render(request, "accounts/profile/name.html", {"form": form}, status=400 if form.errors else 200)
