"""Models of the consent app, one module per part (imported here so Django finds them)."""

from consent.models.privacy import (  # noqa: F401
    ErasureRequest,
    ErasureStep,
    ExportRequest,
    InactivityNotice,
    LegalHold,
)
