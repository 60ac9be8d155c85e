"""Models of the consent app, one module per part (imported here so Django finds them)."""

from consent.models.legal import LegalAcceptance, LegalDocument, LegalDocumentText, LegalDocumentVersion

__all__ = ["LegalAcceptance", "LegalDocument", "LegalDocumentText", "LegalDocumentVersion"]
