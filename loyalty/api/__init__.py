"""The loyalty JSON API: partners post earn and reversal transactions, members redeem and read.

Described by OpenAPI 3.1 (:mod:`loyalty.api.openapi`), served at ``/api/v1/loyalty/openapi.json``
and browsable at ``/api/v1/loyalty/docs``. Errors are RFC 9457 problem details (``idp.api``).
"""
