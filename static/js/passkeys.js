/*
 * Passkey ceremonies for the hosted pages (no inline scripts: CSP is script-src 'self').
 *
 * A form opts in with data-passkey="register" | "signup" | "authenticate" | "login" and
 * data-options-url. Its fields are posted to the options URL (CSRF token included), the
 * browser runs the WebAuthn ceremony, the JSON result goes into the form's hidden
 * "credential" input, and the form is submitted to the server, which verifies it.
 * The login form also offers passkeys in the email field's autofill (conditional mediation).
 */
(function () {
  "use strict";

  function toBuffer(value) {
    var s = value.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function registrationJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        attestationObject: toBase64url(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [],
      },
    };
  }

  function assertionJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature),
        userHandle: toBase64url(r.userHandle),
      },
    };
  }

  function showError(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = text || form.dataset.msgFailed || "";
    box.hidden = !box.textContent;
  }

  function fetchOptions(form) {
    return fetch(form.dataset.optionsUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error(data.error || "");
          error.serverMessage = data.error;
          throw error;
        }
        return data;
      });
    });
  }

  function submitWith(form, json) {
    form.querySelector("input[name=credential]").value = JSON.stringify(json);
    form.submit();
  }

  function run(form, extra) {
    var kind = form.dataset.passkey;
    showError(form, "");
    return fetchOptions(form)
      .then(function (options) {
        if (kind === "register" || kind === "signup") {
          return navigator.credentials.create({ publicKey: creationOptions(options) }).then(registrationJSON);
        }
        var request = Object.assign({ publicKey: requestOptions(options) }, extra || {});
        return navigator.credentials.get(request).then(assertionJSON);
      })
      .then(function (json) {
        submitWith(form, json);
      });
  }

  function report(form, error) {
    if (error && error.name === "AbortError") return;
    if (error && error.serverMessage) return showError(form, error.serverMessage);
    if (error && error.name === "NotAllowedError") return showError(form, form.dataset.msgCancelled);
    if (error && error.name === "InvalidStateError") return showError(form, form.dataset.msgDuplicate);
    showError(form, form.dataset.msgFailed);
  }

  var conditional = null; // AbortController of the pending autofill request on the login page

  function start(form) {
    if (!window.PublicKeyCredential) return showError(form, form.dataset.msgUnsupported);
    if (conditional) {
      // Only one WebAuthn request at a time: the button replaces the autofill request.
      conditional.abort();
      conditional = null;
    }
    run(form).catch(function (error) {
      report(form, error);
    });
  }

  function startConditional(form) {
    if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) return;
      var field = document.getElementById(form.dataset.autofillField || "id_login");
      if (field) field.setAttribute("autocomplete", "username webauthn");
      var controller = new AbortController();
      conditional = controller;
      fetchOptions(form)
        .then(function (options) {
          if (controller.signal.aborted) return null;
          var request = navigator.credentials.get({
            publicKey: requestOptions(options),
            mediation: "conditional",
            signal: controller.signal,
          });
          form.dataset.autofill = "pending"; // the browser now offers passkeys in the autofill
          return request;
        })
        .then(function (cred) {
          delete form.dataset.autofill;
          if (cred && !controller.signal.aborted) submitWith(form, assertionJSON(cred));
        })
        .catch(function (error) {
          delete form.dataset.autofill;
          if (!controller.signal.aborted) report(form, error);
        });
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-passkey]");
    Array.prototype.forEach.call(forms, function (form) {
      var supported = !!window.PublicKeyCredential;
      form.querySelectorAll("[data-passkey-start]").forEach(function (button) {
        if (supported) button.hidden = false;
        button.addEventListener("click", function (event) {
          event.preventDefault();
          start(form);
        });
      });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        start(form);
      });
      if (!supported) showError(form, form.dataset.msgUnsupported);
      if (form.dataset.passkey === "login" && form.dataset.conditional === "true") startConditional(form);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
