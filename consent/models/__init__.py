"""Models of the consent app, one module per part (each helper's models stay in their own module)."""

from consent.models.purposes import ConsentRecord, ConsentState, Purpose, PurposeText

__all__ = ["ConsentRecord", "ConsentState", "Purpose", "PurposeText"]
