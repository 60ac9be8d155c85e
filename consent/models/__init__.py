"""Models of the consent app, one module per part (imported here so Django finds them)."""

from consent.models.legal import LegalAcceptance, LegalDocument, LegalDocumentText, LegalDocumentVersion
from consent.models.outbox import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from consent.models.privacy import ErasureRequest, ErasureStep, ExportRequest, InactivityNotice, LegalHold
from consent.models.purposes import ConsentRecord, ConsentState, Purpose, PurposeText

__all__ = [
    "ConsentRecord",
    "ConsentState",
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
    "Purpose",
    "PurposeText",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
