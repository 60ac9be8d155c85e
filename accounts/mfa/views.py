"""Second-factor, passkey and step-up pages. Thin: they unpack input and call services."""

from __future__ import annotations

import base64
import io
import uuid
from functools import wraps
from urllib.parse import urlencode

from allauth.account import signals as account_signals
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows import reauthentication
from allauth.account.internal.flows.login import perform_login, record_authentication
from allauth.account.internal.flows.signup import prevent_enumeration
from allauth.account.internal.stagekit import stash_login
from allauth.account.models import Login
from allauth.account.stages import LoginStageController
from allauth.core.exceptions import ReauthenticationRequired
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import SignupForm
from accounts.mfa import passkeys, selectors, services
from accounts.mfa.forms import CodeForm, CredentialForm, PasskeyAddForm, PasskeyRenameForm, TOTPConfirmForm
from accounts.mfa.stages import ENROL, VERIFY, SecondFactorStage
from accounts.models import WebAuthnCredential
from accounts.security.services import SIGNUP_PASSKEY
from accounts.services import ACR_LEVELS, ACR_MFA, ACR_PHISHING_RESISTANT

TOTP_SESSION_KEY = "accounts_mfa_totp_setup"
INCORRECT_CODE = gettext_lazy("Incorrect code.")


# --- helpers -----------------------------------------------------------------------------------------
def _safe_next(request: HttpRequest, url: str | None) -> str | None:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def _next_param(request: HttpRequest) -> str | None:
    return _safe_next(request, request.POST.get("next") or request.GET.get("next"))


def _with_next(url: str, nxt: str | None) -> str:
    return f"{url}?{urlencode({'next': nxt})}" if nxt else url


def _json_error(message, status: int = 400, **extra) -> JsonResponse:
    return JsonResponse({"error": str(message), **extra}, status=status)


def qr_code_data_uri(data: str) -> str | None:
    """An SVG QR code via django-otp, when ``qrcode`` or ``segno`` is installed; else None."""
    try:
        from django_otp.qr import write_qrcode_image

        out = io.BytesIO()
        write_qrcode_image(data, out)
    except ModuleNotFoundError:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _require_mfa_session(request: HttpRequest) -> HttpResponse | None:
    """A member who has second factors changes them only from a session that used one."""
    factors = selectors.factors_for(request.user)
    if not (factors.has_strong_factor or factors.email):
        return None
    if ACR_LEVELS[selectors.session_acr(request)] >= ACR_LEVELS[ACR_MFA]:
        return None
    nxt = request.get_full_path() if request.method == "GET" else reverse("accounts:mfa_overview")
    return HttpResponseRedirect(reverse("accounts:step_up") + "?" + urlencode({"next": nxt, "acr": ACR_MFA}))


def recent_authentication_required(view):
    """Signed in, authenticated within RECENT_AUTH_SECONDS, and with MFA if the account has it.

    Not recent: allauth's re-authentication flow (``ReauthenticationRequired``: password page,
    or our passkey/code page for accounts without a password), which resumes the request.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not selectors.recently_authenticated(request):
            raise ReauthenticationRequired()
        response = _require_mfa_session(request)
        return response or view(request, *args, **kwargs)

    return wrapper


def recent_authentication_required_json(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _json_error(_("Sign in first."), 401)
        if not selectors.recently_authenticated(request) or _require_mfa_session(request) is not None:
            return _json_error(_("Confirm it is you again, then retry."), 403)
        return view(request, *args, **kwargs)

    return wrapper


def login_stage_view(view):
    """The login (first factor done, not signed in yet) that our stage is handling."""

    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        stage = LoginStageController.enter(request, SecondFactorStage.key)
        if stage is None:
            return redirect("account_login")
        request._login_stage = stage
        return view(request, stage, *args, **kwargs)

    return wrapper


# --- a page that asks for a second factor -------------------------------------------------------------
class Challenge:
    """Renders the methods a member can use and checks the one they pick.

    Used by the login stage, step-up and re-authentication; ``succeed`` says what happens next.
    """

    template_name = "accounts/mfa/authenticate.html"

    def __init__(self, request: HttpRequest, *, user, methods: list[str], options_url: str, **context):
        self.request = request
        self.user = user
        self.methods = methods
        self.options_url = options_url
        self.context = context

    def forms(self, bound: CodeForm | None = None) -> dict[str, CodeForm]:
        forms = {m: CodeForm(method=m) for m in self.methods if m in selectors.CODE_METHODS}
        if bound is not None:
            forms[bound.data.get("method")] = bound
        return forms

    def render(self, bound: CodeForm | None = None, status: int = 200) -> HttpResponse:
        context = {
            **self.context,
            "methods": self.methods,
            "code_forms": self.forms(bound),
            "options_url": self.options_url,
            "action": self.request.get_full_path(),
            "email_sent": self.request.session.get("accounts_mfa_email_sent") == self.user.pk,
        }
        return render(self.request, self.template_name, context, status=status)

    def handle(self, succeed) -> HttpResponse:
        """GET renders; POST verifies and calls ``succeed(method, obj)`` on success."""
        request = self.request
        if request.method != "POST":
            return self.render()
        action = request.POST.get("action", "code")
        if action == "send_email" and selectors.EMAIL in self.methods:
            try:
                services.email_code_send(user=self.user, request=request)
            except services.MFAError as error:
                messages.error(request, error.message)
            else:
                request.session["accounts_mfa_email_sent"] = self.user.pk
                messages.success(request, _("We sent a code to your email address."))
            return self.render()
        if action == "passkey" and selectors.WEBAUTHN in self.methods:
            form = CredentialForm(request.POST)
            if not form.is_valid():
                messages.error(request, passkeys.MESSAGES["malformed"])
                return self.render(status=400)
            try:
                row = services.passkey_authenticate(
                    request=request,
                    purpose=passkeys.SECOND_FACTOR,
                    credential=form.cleaned_data["credential"],
                    user=self.user,
                )
            except passkeys.PasskeyError as error:
                messages.error(request, error.message)
                return self.render(status=400)
            return succeed(selectors.WEBAUTHN, row)
        form = CodeForm(request.POST, method=request.POST.get("method"))
        if not form.is_valid() or form.cleaned_data["method"] not in self.methods:
            return self.render(form, status=400)
        method = form.cleaned_data["method"]
        try:
            matched = services.second_factor_code_verify(
                user=self.user, method=method, code=form.cleaned_data["code"], request=request
            )
        except services.MFAError as error:
            form.add_error("code", error.message)
            return self.render(form, status=error.status)
        if matched is None:
            form.add_error("code", INCORRECT_CODE)
            return self.render(form, status=400)
        if method == selectors.EMAIL:
            request.session.pop("accounts_mfa_email_sent", None)
        return succeed(method, matched)


def _record(request: HttpRequest, user, method: str, obj, **extra) -> None:
    record_authentication(request, user, method="mfa", type=method, id=getattr(obj, "pk", None), **extra)


# --- login stage: second factor ------------------------------------------------------------------
@login_stage_view
def authenticate(request: HttpRequest, stage) -> HttpResponse:
    if stage.state.get("mode") == ENROL:
        return redirect("accounts:mfa_enrol")
    user = stage.login.user
    methods = selectors.second_factor_methods(user, required_acr=stage.state.get("required"))
    methods = [m for m in methods if m in (stage.state.get("methods") or methods)]
    challenge = Challenge(
        request,
        user=user,
        methods=methods,
        options_url=reverse("accounts:mfa_authenticate_options"),
        heading=gettext_lazy("Two-step verification"),
        intro=gettext_lazy("Confirm it is you with one of these methods."),
        cancel_url=reverse("account_login"),
    )

    def succeed(method, obj):
        _record(request, user, method, obj)
        return stage.exit()

    return challenge.handle(succeed)


@require_POST
@login_stage_view
def authenticate_options(request: HttpRequest, stage) -> JsonResponse:
    user = stage.login.user
    if stage.state.get("mode") != VERIFY or selectors.WEBAUTHN not in selectors.second_factor_methods(user):
        return _json_error(_("No passkey is registered for this account."), 404)
    return JsonResponse(passkeys.authentication_options(request, purpose=passkeys.SECOND_FACTOR, user=user))


# --- login stage: enrolment where MFA is required ------------------------------------------------------
def _totp_setup_key(request: HttpRequest, user, *, fresh: bool = False) -> str:
    data = request.session.get(TOTP_SESSION_KEY)
    if fresh or not isinstance(data, dict) or data.get("user") != user.pk:
        data = {"user": user.pk, "key": services.totp_key_new()}
        request.session[TOTP_SESSION_KEY] = data
    return data["key"]


def _totp_confirm(request: HttpRequest, user, form: TOTPConfirmForm):
    """The new TOTP device if the posted code proves the set-up key, else ``None`` with a form error."""
    if not form.is_valid():
        return None
    try:
        device = services.totp_device_confirm(
            user=user, key=_totp_setup_key(request, user), token=form.cleaned_data["code"], request=request
        )
    except services.MFAError as error:
        form.add_error("code", error.message)
        return None
    if device is None:
        form.add_error("code", INCORRECT_CODE)
    return device


def _totp_context(request: HttpRequest, user) -> dict:
    key = _totp_setup_key(request, user)
    uri = services.totp_config_url(user=user, key=key)
    return {"otpauth_uri": uri, "qr_code": qr_code_data_uri(uri), "manual_key": services.totp_manual_key(key)}


@login_stage_view
def enrol(request: HttpRequest, stage) -> HttpResponse:
    user = stage.login.user
    required = stage.state.get("required")
    if not stage.state.get("enrolled"):
        if stage.state.get("mode") != ENROL:
            return redirect("accounts:mfa_authenticate")
        if selectors.second_factor_methods(user, required_acr=required):
            # Enrolled meanwhile (another tab): prove it instead of adding another factor.
            stage.state.update({"mode": VERIFY, "methods": []})
            stash_login(request, stage.login)
            return redirect("accounts:mfa_authenticate")
    totp_allowed = required != ACR_PHISHING_RESISTANT
    form = TOTPConfirmForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "continue" and stage.state.get("enrolled"):
            request.session.pop(TOTP_SESSION_KEY, None)
            return stage.exit()
        added = None
        if action == "totp" and totp_allowed and not stage.state.get("enrolled"):
            form = TOTPConfirmForm(request.POST)
            added = _totp_confirm(request, user, form)
            method = selectors.TOTP
        elif action == "passkey" and not stage.state.get("enrolled"):
            add_form = PasskeyAddForm(request.POST)
            if add_form.is_valid():
                try:
                    added = services.passkey_register(
                        request=request,
                        user=user,
                        name=add_form.cleaned_data["name"],
                        credential=add_form.cleaned_data["credential"],
                    )
                except (passkeys.PasskeyError, services.MFAError) as error:
                    messages.error(request, error.message)
            else:
                messages.error(request, passkeys.MESSAGES["malformed"])
            method = selectors.WEBAUTHN
        if added is not None:
            _record(request, user, method, added)
            codes = services.recovery_codes_generate(user=user, request=request)
            stage.state["enrolled"] = True
            stash_login(request, stage.login)
            return render(
                request,
                "accounts/mfa/recovery_codes.html",
                {"codes": codes, "continue_action": request.get_full_path(), "during_login": True},
            )
    if stage.state.get("enrolled"):
        return render(
            request,
            "accounts/mfa/recovery_codes.html",
            {"continue_action": request.get_full_path(), "during_login": True},
        )
    context = {
        "form": form,
        "totp_allowed": totp_allowed,
        "passkey_form": PasskeyAddForm(),
        "options_url": reverse("accounts:mfa_enrol_options"),
        "during_login": True,
        "action": request.get_full_path(),
    }
    if totp_allowed:
        context.update(_totp_context(request, user))
    return render(request, "accounts/mfa/enrol.html", context, status=400 if form.errors else 200)


@require_POST
@login_stage_view
def enrol_options(request: HttpRequest, stage) -> JsonResponse:
    user = stage.login.user
    if stage.state.get("mode") != ENROL or stage.state.get("enrolled"):
        return _json_error(_("This sign-in does not need a new passkey."), 409)
    return JsonResponse(_registration_options(request, user))


def _registration_options(request: HttpRequest, user) -> dict:
    return passkeys.registration_options(
        request,
        purpose=passkeys.REGISTER,
        handle=passkeys.user_handle(user),
        user_name=user.email,
        display_name=user.get_full_name() or user.email,
        exclude=selectors.factors_for(user).passkeys,
        user=user.pk,
    )


# --- step-up and re-authentication (signed in) ------------------------------------------------------------
def _challenge_required_acr(request: HttpRequest) -> str:
    acr = request.GET.get("acr", ACR_MFA)
    return acr if ACR_LEVELS.get(acr, 0) >= ACR_LEVELS[ACR_MFA] else ACR_MFA


@never_cache
@login_required
def step_up(request: HttpRequest) -> HttpResponse:
    """Ask a signed-in member for exactly what the requested acr lacks, then go back to ``next``."""
    user = request.user
    required = _challenge_required_acr(request)
    nxt = _safe_next(request, request.GET.get("next")) or reverse("home")
    if ACR_LEVELS[selectors.session_acr(request)] >= ACR_LEVELS[required]:
        return HttpResponseRedirect(nxt)
    methods = selectors.second_factor_methods(user, required_acr=required)
    if not methods:
        here = request.get_full_path()
        return render(
            request,
            "accounts/mfa/step_up_enrol.html",
            {
                "required": required,
                "phishing_resistant": required == ACR_PHISHING_RESISTANT,
                "totp_url": _with_next(reverse("accounts:mfa_totp_setup"), here),
                "passkey_url": _with_next(reverse("accounts:mfa_passkey_add"), here),
            },
        )
    challenge = Challenge(
        request,
        user=user,
        methods=methods,
        options_url=reverse("accounts:mfa_passkey_options"),
        heading=gettext_lazy("Confirm it is you"),
        intro=(
            gettext_lazy("This needs a passkey. Use one of yours to continue.")
            if required == ACR_PHISHING_RESISTANT
            else gettext_lazy("This needs a second step. Use one of these methods to continue.")
        ),
        cancel_url=reverse("home"),
    )

    def succeed(method, obj):
        _record(request, user, method, obj)
        services.step_up_record(user=user, method=method, acr=required, request=request)
        return HttpResponseRedirect(nxt)

    return challenge.handle(succeed)


@require_POST
def passkey_options(request: HttpRequest) -> JsonResponse:
    """Assertion options for a signed-in member (step-up, re-authentication)."""
    if not request.user.is_authenticated:
        return _json_error(_("Sign in first."), 401)
    if not selectors.factors_for(request.user).usable_passkeys:
        return _json_error(_("No passkey is registered for this account."), 404)
    return JsonResponse(passkeys.authentication_options(request, purpose=passkeys.SECOND_FACTOR, user=request.user))


def _reauthenticate(request: HttpRequest, kinds: tuple[str, ...]) -> HttpResponse:
    user = request.user
    available = selectors.second_factor_methods(user)
    methods = [m for m in available if m in kinds]
    if not methods:
        return redirect(_with_next(reverse("account_reauthenticate"), _next_param(request)))
    alternatives = [
        {**m, "url": _with_next(m["url"], _next_param(request))}
        for m in get_adapter(request).get_reauthentication_methods(user)
        if m["url"] != request.path
    ]
    challenge = Challenge(
        request,
        user=user,
        methods=methods,
        options_url=reverse("accounts:mfa_passkey_options"),
        heading=gettext_lazy("Confirm it is you"),
        intro=gettext_lazy("Please reauthenticate to safeguard your account."),
        alternatives=alternatives,
        cancel_url=reverse("home"),
    )

    def succeed(method, obj):
        _record(request, user, method, obj, reauthenticated=True)
        return reauthentication.resume_request(request) or HttpResponseRedirect(
            _next_param(request) or reverse("accounts:mfa_overview")
        )

    return challenge.handle(succeed)


@never_cache
@login_required
def reauthenticate_passkey(request: HttpRequest) -> HttpResponse:
    return _reauthenticate(request, (selectors.WEBAUTHN,))


@never_cache
@login_required
def reauthenticate_code(request: HttpRequest) -> HttpResponse:
    return _reauthenticate(request, selectors.CODE_METHODS)


# --- account pages ---------------------------------------------------------------------------------
@never_cache
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    factors = selectors.factors_for(user)
    return render(
        request,
        "accounts/mfa/overview.html",
        {
            "factors": factors,
            "email_codes_allowed": selectors.email_codes_allowed(user, factors=factors)
            and selectors.email_verified(user),
            "rename_form": PasskeyRenameForm(),
        },
    )


@never_cache
@recent_authentication_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if selectors.factors_for(user).totp is not None:
        return redirect("accounts:mfa_overview")
    form = TOTPConfirmForm(request.POST or None)
    if request.method == "POST":
        device = _totp_confirm(request, user, form)
        if device is not None:
            request.session.pop(TOTP_SESSION_KEY, None)
            # The code just checked is a second factor proven in this session.
            _record(request, user, selectors.TOTP, device)
            messages.success(request, _("Your authenticator app is set up."))
            return _after_enrolment(request)
    context = {"form": form, "totp_allowed": True, "action": request.get_full_path()}
    context.update(_totp_context(request, user))
    return render(request, "accounts/mfa/totp_setup.html", context, status=400 if form.errors else 200)


def _after_enrolment(request: HttpRequest) -> HttpResponse:
    """First factor of the account: hand out recovery codes; then back to where it started."""
    nxt = _next_param(request)
    if selectors.factors_for(request.user).recovery_codes_left == 0:
        codes = services.recovery_codes_generate(user=request.user, request=request)
        return render(
            request,
            "accounts/mfa/recovery_codes.html",
            {"codes": codes, "next": nxt or reverse("accounts:mfa_overview")},
        )
    return HttpResponseRedirect(nxt or reverse("accounts:mfa_overview"))


def _change_factor(request: HttpRequest, service, success_message) -> HttpResponse:
    """Run one factor change for the signed-in member and report it on the overview page."""
    try:
        service(user=request.user, request=request)
    except services.MFAError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success_message)
    return redirect("accounts:mfa_overview")


@require_POST
@recent_authentication_required
def totp_remove(request: HttpRequest) -> HttpResponse:
    return _change_factor(request, services.totp_device_remove, _("Your authenticator app was removed."))


@require_POST
@recent_authentication_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = services.recovery_codes_generate(user=request.user, request=request)
    except services.MFAError as error:
        messages.error(request, error.message)
        return redirect("accounts:mfa_overview")
    return render(
        request,
        "accounts/mfa/recovery_codes.html",
        {"codes": codes, "next": reverse("accounts:mfa_overview")},
    )


@require_POST
@recent_authentication_required
def email_enable(request: HttpRequest) -> HttpResponse:
    return _change_factor(request, services.email_device_enable, _("Codes by email are turned on."))


@require_POST
@recent_authentication_required
def email_disable(request: HttpRequest) -> HttpResponse:
    return _change_factor(request, services.email_device_disable, _("Codes by email are turned off."))


@never_cache
@recent_authentication_required
def passkey_add(request: HttpRequest) -> HttpResponse:
    form = PasskeyAddForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                credential = services.passkey_register(
                    request=request,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    credential=form.cleaned_data["credential"],
                )
            except (passkeys.PasskeyError, services.MFAError) as error:
                messages.error(request, error.message)
            else:
                _record(request, request.user, selectors.WEBAUTHN, credential)
                messages.success(request, _("Passkey “%(name)s” added.") % {"name": credential.name})
                return _after_enrolment(request)
        else:
            messages.error(request, passkeys.MESSAGES["malformed"])
        status = 400
    return render(
        request,
        "accounts/mfa/passkey_add.html",
        {
            "form": form,
            "options_url": reverse("accounts:mfa_passkey_add_options"),
            "action": request.get_full_path(),
        },
        status=status,
    )


@require_POST
@recent_authentication_required_json
def passkey_add_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_registration_options(request, request.user))


@require_POST
@login_required
def passkey_rename(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=pk, user=request.user)
    form = PasskeyRenameForm(request.POST)
    if form.is_valid():
        services.passkey_rename(credential=credential, name=form.cleaned_data["name"], request=request)
        messages.success(request, _("Passkey renamed."))
    else:
        messages.error(request, _("Give the passkey a name."))
    return redirect("accounts:mfa_overview")


@require_POST
@recent_authentication_required
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=pk, user=request.user)
    try:
        services.passkey_remove(credential=credential, request=request)
    except services.MFAError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Passkey “%(name)s” removed.") % {"name": credential.name})
    return redirect("accounts:mfa_overview")


# --- passwordless sign-in -------------------------------------------------------------------------
@require_POST
def passkey_login_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(passkeys.authentication_options(request, purpose=passkeys.LOGIN))


@require_POST
@never_cache
def passkey_login(request: HttpRequest) -> HttpResponse:
    nxt = _next_param(request)
    form = CredentialForm(request.POST)
    login_url = _with_next(reverse("account_login"), nxt)
    if not form.is_valid():
        messages.error(request, passkeys.MESSAGES["malformed"])
        return HttpResponseRedirect(login_url)
    try:
        credential = services.passkey_authenticate(
            request=request, purpose=passkeys.LOGIN, credential=form.cleaned_data["credential"]
        )
    except passkeys.PasskeyError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(login_url)
    login = Login(user=credential.user, redirect_url=nxt)
    record_authentication(request, credential.user, method="passkey", id=credential.pk)
    return perform_login(request, login)


# --- sign-up with a passkey --------------------------------------------------------------------------
def _signup_form(request: HttpRequest, data=None) -> SignupForm:
    return SignupForm(data=data, by_passkey=True)


@never_cache
def passkey_signup(request: HttpRequest) -> HttpResponse:
    """A new account from an email address and a passkey: no password is ever set."""
    if request.user.is_authenticated:
        return redirect("accounts:mfa_overview")
    nxt = _next_param(request)
    form = _signup_form(request, request.POST if request.method == "POST" else None)
    credential_form = CredentialForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid() and credential_form.is_valid():
            if form.account_already_exists:
                return prevent_enumeration(request, email=form.cleaned_data["email"])
            try:
                registration, state = passkeys.verify_registration(
                    request, purpose=passkeys.SIGNUP, credential=credential_form.cleaned_data["credential"]
                )
                if state.get("email") != form.cleaned_data["email"]:
                    raise passkeys.PasskeyError("challenge", "challenge issued for another email address")
            except passkeys.PasskeyError as error:
                services.passkey_rejection_record(user=None, reason=error.code, detail=error.detail, request=request)
                messages.error(request, error.message)
            else:
                try:
                    user = services.passkey_signup(
                        request=request,
                        form=form,
                        sub=uuid.UUID(state["sub"]),
                        name=str(gettext_lazy("Passkey")),
                        registration=registration.as_kwargs(),
                    )
                except services.MFAError as error:
                    messages.error(request, error.message)
                else:
                    return _signup_login(request, user, nxt)
        elif form.is_valid():
            messages.error(request, passkeys.MESSAGES["malformed"])
    return render(
        request,
        "accounts/mfa/passkey_signup.html",
        {
            "form": form,
            "options_url": reverse("accounts:mfa_passkey_signup_options"),
            "next": nxt,
            "login_url": _with_next(reverse("account_login"), nxt),
            "signup_url": _with_next(reverse("account_signup"), nxt),
            "action": request.get_full_path(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _signup_login(request: HttpRequest, user, nxt: str | None) -> HttpResponse:
    """allauth's complete_signup, with the passkey recorded as this login's authentication."""
    account_signals.user_signed_up.send(sender=user.__class__, request=request, user=user, signup_method=SIGNUP_PASSKEY)
    login = Login(user=user, redirect_url=nxt, signup=True)
    credential = user.webauthn_credentials.first()
    record_authentication(request, user, method="passkey", id=credential.pk if credential else None)
    return perform_login(request, login)


@require_POST
def passkey_signup_options(request: HttpRequest) -> JsonResponse:
    form = _signup_form(request, request.POST)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        first = next(iter(errors.values()))[0]
        return _json_error(first, 400, errors=errors)
    email = form.cleaned_data["email"]
    sub = uuid.uuid4()
    return JsonResponse(
        passkeys.registration_options(
            request,
            purpose=passkeys.SIGNUP,
            handle=sub.bytes,
            user_name=email,
            display_name=email,
            email=email,
            sub=str(sub),
        )
    )
