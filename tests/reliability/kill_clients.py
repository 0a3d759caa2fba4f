"""HTTP clients for the kill tests: each files a demand and walks it through attestation and
registration, one command at a time, each under its own Idempotency-Key. A command that got
no answer (the server was killed) or a 5xx is sent again with the same key until it is
acknowledged, as a careful client does; anything else is recorded as unexpected."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.integration import world as w

PDF = base64.b64encode(b"%PDF-1.4\n% kill test\n%%EOF\n").decode()


def documents(*kinds: str) -> list[dict[str, str]]:
    return [{"kind": k, "file_name": f"{k}.pdf", "content_base64": PDF} for k in kinds]


@dataclass
class Acks:
    """What the clients were told: key -> (reference, trigger, seq)."""

    acked: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    resent: int = 0
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Walker(threading.Thread):
    """One client: demand after demand, each filed, attested and registered."""

    def __init__(
        self, number: int, base_url: str, tokens: dict[str, str], acks: Acks, stop: threading.Event
    ) -> None:
        """``stop``: finish the demand under way (every command acknowledged), then end."""
        super().__init__(daemon=True, name=f"walker-{number}")
        self.number, self.base_url, self.tokens, self.acks, self.stop = (
            number,
            base_url,
            tokens,
            acks,
            stop,
        )

    def _send(self, key: str, who: str, path: str, body: Any) -> dict[str, Any] | None:
        """POST until acknowledged; None if told to stop before that."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": key}
        tries = 0
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            tries += 1
            try:
                with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
                    answer = client.post(path, headers=headers, json=body)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code < 300:
                if tries > 1:
                    with self.acks.lock:
                        self.acks.resent += tries - 1
                return dict(answer.json())
            if answer is not None and answer.status_code < 500:
                with self.acks.lock:
                    self.acks.unexpected.append(f"{key}: {answer.status_code} {answer.text}")
                return None
            time.sleep(0.1)
        with self.acks.lock:
            self.acks.unexpected.append(f"{key}: never acknowledged")
        return None

    def run(self) -> None:
        demand = 0
        while not self.stop.is_set():
            demand += 1
            prefix = f"kill-{self.number}-{demand}"
            filed = self._send(
                f"{prefix}-submit",
                "agent",
                "/api/v1/requests",
                {
                    "sop": w.EG,
                    "data": w.eg_data(workers_requested=demand),
                    "documents": documents(*w.EG_SUBMIT_DOCS),
                },
            )
            if filed is None:
                return
            ref = filed["reference"]
            self._ack(f"{prefix}-submit", filed)
            steps = [
                (
                    "attest",
                    "labour_attache",
                    "attest_demand",
                    {"documents": documents("attestation")},
                ),
                (
                    "register",
                    "registry_clerk",
                    "register_demand",
                    {"data": {"demand_register_number": f"DR-{prefix}"}},
                ),
            ]
            for name, who, trigger, body in steps:
                done = self._send(
                    f"{prefix}-{name}", who, f"/api/v1/requests/{ref}/actions/{trigger}", body
                )
                if done is None:
                    return
                self._ack(f"{prefix}-{name}", done)

    def _ack(self, key: str, answer: dict[str, Any]) -> None:
        result = answer["result"]
        with self.acks.lock:
            self.acks.acked[key] = (result["reference"], result["trigger"], result["seq"])
