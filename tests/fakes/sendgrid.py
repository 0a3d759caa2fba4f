"""A fake SendGrid v3 API on 127.0.0.1 for tests: records every mail posted to
``/v3/mail/send`` and answers what the test asks: 202 (with an ``X-Message-Id``), 400, 401,
429 (with ``Retry-After``), 500, a stall longer than the client's timeout ("stall": then
accepted, as a slow provider may; "stall-fail": then refused), or a dropped connection
("drop"). ``storm(...)`` answers at random, as an outage does: 5xx storms, 429s, stalls."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSendGrid:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # every request, whatever was answered
        self.accepted: list[dict[str, Any]] = []  # the mails answered 202
        self.script: deque[str] = deque()  # answers to give, in order; then `default`
        self.default = "202"
        self.stall_seconds = 3.0
        self.retry_after = "1"
        self.storm_odds: dict[str, float] = {}  # answer -> probability, while a storm lasts
        self.rng = random.Random(7)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    answer = fake.script.popleft() if fake.script else fake._storm_answer()
                    fake.received.append(
                        {
                            "path": self.path,
                            "body": body,
                            "answer": answer,
                            "auth": self.headers.get("Authorization"),
                        }
                    )
                if answer == "drop":  # the connection closes without an answer
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if answer in ("stall", "stall-fail"):
                    time.sleep(fake.stall_seconds)
                    answer = "202" if answer == "stall" else "504"
                status = int(answer)
                self.send_response(status)
                if status == 202:
                    with fake.lock:
                        fake.accepted.append(body)
                        number = len(fake.accepted)
                    self.send_header("X-Message-Id", f"fake-{number}")
                if status == 429:
                    self.send_header("Retry-After", fake.retry_after)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if status >= 400:
                    self.wfile.write(json.dumps({"errors": [{"message": f"fake {status}"}]})
                                     .encode())  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, *answers: str) -> None:
        """The next answers, in order (e.g. "500", "429", "stall", "202")."""
        with self.lock:
            self.script.extend(answers)

    def storm(self, **odds: float) -> None:
        """Answer at random: e.g. ``storm(s503=0.5, s429=0.2, stall_fail=0.1)`` (the rest
        202); ``storm()`` ends it. Keys: ``s<status>``, ``stall``, ``stall_fail``, ``drop``."""
        with self.lock:
            self.storm_odds = {(k[1:] if k[1:].isdigit() else k.replace("_", "-")): v
                               for k, v in odds.items()}  # fmt: skip

    def _storm_answer(self) -> str:
        roll = self.rng.random()
        for answer, odds in self.storm_odds.items():
            if roll < odds:
                return answer
            roll -= odds
        return self.default

    def message_ids(self) -> list[str]:
        """The sopflow message id of every accepted mail (custom argument)."""
        return [m.get("custom_args", {}).get("sopflow_message_id") for m in self.accepted]

    def __enter__(self) -> FakeSendGrid:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
