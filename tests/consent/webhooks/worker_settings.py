"""Settings of the Celery worker the queue tests start: the project's, with a retry schedule of
fractions of a second, and a sweep every second when the worker runs beat (``-B``)."""

from datetime import timedelta

from idp.settings import *  # noqa: F403

CONSENT_WEBHOOKS_RETRY_BASE_SECONDS = 0.2
CONSENT_WEBHOOKS_RETRY_MAX_SECONDS = 1.0
CONSENT_WEBHOOKS_MAX_ATTEMPTS = 3
CONSENT_WEBHOOKS_SWEEP_AFTER_SECONDS = 1
CONSENT_WEBHOOKS_TIMEOUT = 5.0
CONSENT_WEBHOOKS_PUBLISH_TIMEOUT = 0.5

CELERY_BEAT_SCHEDULE = {
    "consent-outbox-sweep": {"task": "consent.outbox.sweep", "schedule": timedelta(seconds=1)},
}
