"""A webhook receiver for Member ID's consent events, on the standard library only.

    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 9100

Register ``http://127.0.0.1:9100/hooks`` as a webhook subscription in the admin (``http://`` is
accepted for loopback only) and put the secret shown there in ``WEBHOOK_SECRET``. Each delivery is
checked as the Standard Webhooks specification says (see docs/webhooks.md): the signature over
``id.timestamp.body`` with every secret you hold, the timestamp within five minutes, and the
``webhook-id`` not seen before. Anything else gets a 400 and is not processed.

A real receiver keeps the seen ids in its database (unique key), in the same transaction as the
work the event causes; this demo keeps them in memory.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60


class Invalid(Exception):
    pass


def secret_bytes(secret: str) -> bytes:
    secret = secret.removeprefix("whsec_")
    return base64.b64decode(secret + "=" * (-len(secret) % 4))


def verify(secrets: list[str], headers: Mapping[str, str], body: bytes, now: float | None = None) -> dict:
    """Return the event, or raise :class:`Invalid`. ``headers`` keys in lower case."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp.isdigit() and signatures):
        raise Invalid("missing or malformed webhook headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE:
        raise Invalid("timestamp outside the tolerance")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [hmac.new(secret_bytes(s), signed, hashlib.sha256).digest() for s in secrets]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except binascii.Error:
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            return json.loads(body)
    raise Invalid("no valid signature")


def make_server(
    secrets: list[str], on_event: Callable[[dict], None], host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """An HTTP server that calls ``on_event`` once per verified event id."""
    seen: set[str] = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = verify(secrets, headers, body)
            except Invalid as error:
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.log_message("refused: %s", error)
                return
            with lock:
                duplicate = headers["webhook-id"] in seen
                seen.add(headers["webhook-id"])
            if not duplicate:  # at-least-once delivery: the same id may come again
                on_event(event)
            self.send_response(204)
            self.end_headers()

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    secrets = os.environ.get("WEBHOOK_SECRET", "").split()  # two during a rotation, space-separated
    if not secrets:
        parser.error("set WEBHOOK_SECRET to the subscription's secret (whsec_...)")
    server = make_server(secrets, lambda event: print(json.dumps(event, indent=2)), port=args.port)
    print(f"listening on http://127.0.0.1:{args.port}/hooks")
    server.serve_forever()


if __name__ == "__main__":
    main()
