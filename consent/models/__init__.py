from consent.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = ["OutboxEvent", "WebhookAttempt", "WebhookDelivery", "WebhookSubscription"]
