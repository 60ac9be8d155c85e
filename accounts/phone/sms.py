"""Sending text messages: a small interface with two backends.

- ``ConsoleSMSBackend`` (default, embedded set-up): logs the message and writes it to stdout.
- ``HttpSMSBackend``: POSTs JSON ``{"to": "+8190…", "body": "…"}`` to ``SMS_URL`` with
  ``Authorization: Bearer <SMS_TOKEN>`` when set; any 2xx is success. Put a small adapter in
  front of your provider's API (Twilio, Amazon SNS, …) if it speaks another dialect.

``SMS_BACKEND`` (a dotted path) picks another class; with ``SMS_URL`` set the HTTP backend is
the default. Backends raise :class:`SMSError` (``retryable`` for network errors and 5xx/429).
"""

from __future__ import annotations

import logging
import sys

import requests
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class BaseSMSBackend:
    def send(self, *, to: str, body: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    def send(self, *, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()


class HttpSMSBackend(BaseSMSBackend):
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        self.url = url or getattr(settings, "SMS_URL", "")
        self.token = token if token is not None else getattr(settings, "SMS_TOKEN", "")
        self.timeout = timeout or getattr(settings, "SMS_TIMEOUT", 5)

    def send(self, *, to: str, body: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = requests.post(self.url, json={"to": to, "body": body}, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise SMSError(f"SMS gateway unreachable: {error.__class__.__name__}", retryable=True) from error
        if not 200 <= response.status_code < 300:
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            raise SMSError(f"SMS gateway answered {response.status_code}", retryable=retryable)


def get_backend() -> BaseSMSBackend:
    path = getattr(settings, "SMS_BACKEND", "")
    if path:
        return import_string(path)()
    if getattr(settings, "SMS_URL", ""):
        return HttpSMSBackend()
    return ConsoleSMSBackend()


def send_sms(*, to: str, body: str) -> None:
    get_backend().send(to=to, body=body)
