"""Tunables of the outbox and webhook delivery, read from Django settings with documented defaults.

Each is read as ``CONSENT_WEBHOOKS_<NAME>`` (the pattern of ``accounts/app_settings.py``)::

    from consent.outbox.app_settings import webhook_settings
    webhook_settings.MAX_ATTEMPTS
"""

from __future__ import annotations

from django.conf import settings


class _WebhookSettings:
    prefix = "CONSENT_WEBHOOKS_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def TIMEOUT(self) -> float:
        """Seconds to connect and to wait for each read of the receiver's answer."""
        return self._get("TIMEOUT", 10.0)

    @property
    def PUBLISH_TIMEOUT(self) -> float:
        """Seconds a task publication on commit may take (connecting, and each broker command).
        Past it the request goes on and the delivery waits in the outbox for the sweeper."""
        return self._get("PUBLISH_TIMEOUT", 2.0)

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Attempts per delivery (the first one included) before it is marked failed. With the
        default delays the last attempt comes about 26 hours after the first."""
        return self._get("MAX_ATTEMPTS", 14)

    @property
    def RETRY_BASE_SECONDS(self) -> float:
        """Delay before the second attempt; it doubles with each attempt (plus jitter)."""
        return self._get("RETRY_BASE_SECONDS", 30.0)

    @property
    def RETRY_MAX_SECONDS(self) -> float:
        """Ceiling of the delay between two attempts (also for a receiver's ``Retry-After``)."""
        return self._get("RETRY_MAX_SECONDS", 6 * 3600.0)

    @property
    def RETRY_JITTER(self) -> float:
        """Up to this fraction of the delay is added at random, so retries do not come in waves."""
        return self._get("RETRY_JITTER", 0.25)

    @property
    def SWEEP_AFTER_SECONDS(self) -> int:
        """A delivery still pending this long after it was due is enqueued again by the sweeper
        (its message was never published, e.g. the broker was down, or was lost)."""
        return self._get("SWEEP_AFTER_SECONDS", 60)

    @property
    def SWEEP_BATCH(self) -> int:
        """At most this many deliveries are enqueued again per sweep."""
        return self._get("SWEEP_BATCH", 500)

    @property
    def LEASE_SECONDS(self) -> int:
        """How long a delivery stays marked as in flight. A worker that died mid-request leaves it
        in flight; after this the sweeper retries it (at-least-once delivery). Keep it well above
        ``TIMEOUT``."""
        return self._get("LEASE_SECONDS", 120)

    @property
    def SECRET_OVERLAP_SECONDS(self) -> int:
        """After a secret rotation the previous secret keeps signing (a second signature) this long,
        so receivers can switch without losing a delivery."""
        return self._get("SECRET_OVERLAP_SECONDS", 24 * 3600)

    @property
    def TIMESTAMP_TOLERANCE(self) -> int:
        """Default of ``signing.verify``: how far ``webhook-timestamp`` may be from the receiver's clock."""
        return self._get("TIMESTAMP_TOLERANCE", 300)

    @property
    def MAX_PAYLOAD_BYTES(self) -> int:
        """Largest event payload accepted by ``outbox_event_add`` (serialized JSON)."""
        return self._get("MAX_PAYLOAD_BYTES", 64 * 1024)

    @property
    def RETENTION_DAYS(self) -> int:
        """Events whose deliveries are all finished (delivered or failed) are deleted after this
        many days: the outbox holds personal data and is not an archive."""
        return self._get("RETENTION_DAYS", 30)

    @property
    def ALLOW_HTTP(self) -> bool:
        """Accept ``http://`` receiver URLs on any host. Off by default outside the embedded set-up;
        ``http://`` to a loopback address is always accepted."""
        return self._get("ALLOW_HTTP", bool(getattr(settings, "EMBEDDED", False)))


webhook_settings = _WebhookSettings()
