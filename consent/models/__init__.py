"""Models of the consent app, one module per part (imported here so Django finds them)."""

from consent.models.legal import LegalAcceptance, LegalDocument, LegalDocumentText, LegalDocumentVersion
from consent.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from consent.models.privacy import ErasureRequest, ErasureStep, ExportRequest, InactivityNotice, LegalHold

__all__ = [
    "ErasureRequest",
    "ErasureStep",
    "ExportRequest",
    "InactivityNotice",
    "LegalAcceptance",
    "LegalDocument",
    "LegalDocumentText",
    "LegalDocumentVersion",
    "LegalHold",
    "OutboxEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
