"""The transactional outbox and signed webhooks (Standard Webhooks) to marketing and CRM systems.

``services.outbox_event_add`` writes an event and its deliveries in the caller's transaction;
``tasks`` deliver them through Celery; the beat sweeper re-enqueues what the broker never got.
See ``docs/webhooks.md``.
"""
