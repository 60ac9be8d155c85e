"""A fake SMS gateway on loopback: the network edge of ``accounts.phone.sms.HttpSMSBackend``.

It records every POST (``messages``: ``{"to", "body", "authorization"}``) and answers with
``status`` (200 by default), so tests read the code the member would receive on their phone.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeSMSGateway:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                payload["authorization"] = self.headers.get("Authorization", "")
                gateway.messages.append(payload)
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "msg-1"}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSMSGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def last_code(self, to: str | None = None) -> str:
        """The 6-digit code of the latest message (to ``to``, when given)."""
        for message in reversed(self.messages):
            if to is None or message["to"] == to:
                return re.search(r"\b(\d{6})\b", message["body"]).group(1)
        raise AssertionError(f"no SMS sent to {to or 'anyone'}: {self.messages}")
