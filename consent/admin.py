from consent.privacy import admin as privacy_admin  # noqa: F401 - the privacy officer's queue
