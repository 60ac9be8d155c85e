"""The member's privacy rights: see and export their data, delete the account, legal holds,
inactive accounts. Plans of other apps are in their ``privacy`` modules (see ``registry``)."""
