"""HTTP load against ``sopflow serve`` on 127.0.0.1: many users reading and acting at once.

    .venv/bin/python bench/load.py --database sqlite --users 24 --duration 30
    .venv/bin/python bench/load.py --database postgresql --prefect embedded --json

It seeds a fresh database with the demo (``sopflow/demo.py``: both ministries, an agency, an
enterprise, one user per role) plus ``--extra`` more agents, attachés and clerks, gives every
user an API token (as ``sopflow token create`` does), starts ``sopflow serve`` on a free
port, and runs ``--users`` virtual users through httpx for ``--duration`` seconds (at most
``--max-requests``): agents file demands and follow them, officials read their inbox and act
on what it lists (pinned with If-Match, so two officials on one request give a 412, or a
409 when they raced to the write), auditors read histories. It reports requests per
second, p50/p95/p99 latency per kind and the answers by status; it exits 1 on any 5xx.
Only 127.0.0.1 is ever addressed.

PostgreSQL: a database of its own on the local server (``--pg-database``, default
``sopflow_load``, made with createdb if missing, its schema reset each run).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SOPFLOW = Path(sys.executable).with_name("sopflow")
PDF = base64.b64encode(b"%PDF-1.4\n% load test\n%%EOF\n").decode()
EG = "eg-mom-international-placement"
# trigger -> body that makes it valid whenever the SOP lists it for the user
ACTIONS: dict[str, dict[str, Any]] = {
    "attest_demand": {
        "documents": [{"kind": "attestation", "file_name": "a.pdf", "content_base64": PDF}]
    },
    "register_demand": {"data": {"demand_register_number": "DR-LOAD-1"}},
    "approve_demand": {},
    "return_for_correction": {
        "comment": "Please attach the signed letter",
        "reason": "incomplete_documents",
    },
    "resubmit": {},
}


def database_url(kind: str, folder: Path, pg_database: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'sopflow.db'}"
    if "://" in kind:
        return kind
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", pg_database],
        capture_output=True,
        check=False,
    )  # fmt: skip  (exists already: fine)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}"


def seed(url: str, data: Path, extra: int) -> dict[str, list[tuple[str, str]]]:
    """A migrated, empty database with the demo and extra users; tokens by kind of user."""
    sys.path.insert(0, str(ROOT))
    from sopflow import bootstrap, demo
    from sopflow.settings import Settings
    from sopflow.store.db import make_engine, upgrade

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(engine)
    engine.dispose()
    services = bootstrap.build(Settings(database_url=url, data_dir=data))
    demo.seed(services)
    people: dict[str, list[str]] = {
        "agent": ["agent@nile.demo"],
        "official": ["attache@mom.demo", "clerk@mom.demo", "officer@mom.demo", "director@mom.demo"],
        "auditor": ["auditor@mom.demo"],
    }
    for n in range(extra):
        for kind, role, org in (
            ("agent", "employer_agent", "nile-recruitment"),
            ("official", "labour_attache", "eg-mom"),
            ("official", "registry_clerk", "eg-mom"),
        ):
            address = f"{role.split('_')[-1]}{n}@load.demo"
            services.directory.add_user(address, f"Load {role} {n}", org, [role])
            people[kind].append(address)
    tokens = {
        kind: [(e, services.tokens.create(e, "load").token) for e in emails]
        for kind, emails in people.items()
    }
    services.ctx.store.engine.dispose()
    return tokens


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter[str] = Counter()
        self.failures: list[str] = []

    def add(self, kind: str, seconds: float, status: int | str, note: str = "") -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.status[str(status)] += 1
            if isinstance(status, str) or status >= 500:
                self.failures.append(f"{kind}: {status} {note[:300]}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


class User(threading.Thread):
    """One virtual user: its kind decides what it reads and does."""

    def __init__(
        self,
        kind: str,
        email: str,
        token: str,
        base: str,
        stats: Stats,
        until: float,
        budget: Counter[str],
        cap: int,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.kind, self.email, self.stats, self.until = kind, email, stats, until
        self.budget, self.cap, self.rng = budget, cap, random.Random(seed)
        self.client = httpx.Client(
            base_url=base, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
        )
        self.mine: list[str] = []

    def call(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        with self.stats.lock:
            if self.budget["sent"] >= self.cap:
                return None
            self.budget["sent"] += 1
        started = time.perf_counter()
        try:
            answer = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.add(kind, time.perf_counter() - started, type(exc).__name__, str(exc))
            return None
        self.stats.add(kind, time.perf_counter() - started, answer.status_code, answer.text)
        return answer

    def run(self) -> None:
        while time.monotonic() < self.until and self.budget["sent"] < self.cap:
            getattr(self, f"step_{self.kind}")()
        self.client.close()

    def step_agent(self) -> None:
        if not self.mine or self.rng.random() < 0.15:
            filed = self.call(
                "action",
                "POST",
                "/api/v1/requests",
                json={
                    "sop": EG,
                    "data": demand(self.rng),
                    "documents": [
                        {"kind": k, "file_name": f"{k}.pdf", "content_base64": PDF}
                        for k in ("demand_letter", "power_of_attorney")
                    ],
                },
            )
            if filed is not None and filed.status_code == 201:
                self.mine.append(filed.json()["reference"])
            return
        ref = self.rng.choice(self.mine)
        self.rng.choice(
            [
                lambda: self.call("read", "GET", f"/api/v1/requests/{ref}"),
                lambda: self.call("read", "GET", "/api/v1/requests?limit=50"),
                lambda: self.act_on_inbox(),
            ]
        )()

    def step_official(self) -> None:
        if self.rng.random() < 0.4:
            self.call(
                "read",
                "GET",
                self.rng.choice(
                    [
                        "/api/v1/requests?limit=50",
                        "/api/v1/me",
                        f"/api/v1/requests?sop={EG}&limit=20",
                    ]
                ),
            )
            return
        self.act_on_inbox()

    def step_auditor(self) -> None:
        listed = self.call("read", "GET", "/api/v1/requests?limit=100")
        if listed is not None and listed.status_code == 200 and listed.json():
            ref = self.rng.choice(listed.json())["reference"]
            self.call("read", "GET", f"/api/v1/requests/{ref}/history")

    def act_on_inbox(self) -> None:
        inbox = self.call("read", "GET", "/api/v1/inbox")
        if inbox is None or inbox.status_code != 200:
            return
        items = [i for i in inbox.json() if set(i["allowed_triggers"]) & set(ACTIONS)]
        if not items:
            return
        item = self.rng.choice(items[:20])
        shown = self.call("read", "GET", f"/api/v1/requests/{item['reference']}")
        if shown is None or shown.status_code != 200:
            return
        triggers = [t for t in shown.json()["allowed_triggers"] if t in ACTIONS]
        if triggers:
            trigger = self.rng.choice(triggers)
            self.call(
                "action",
                "POST",
                f"/api/v1/requests/{item['reference']}/actions/{trigger}",
                json=ACTIONS[trigger],
                headers={"If-Match": shown.headers["ETag"]},
            )


def demand(rng: random.Random) -> dict[str, Any]:
    return {
        "employer_name": "Red Sea Construction Co.",
        "employer_country": "SA",
        "destination_country": "SA",
        "occupation": "7112",
        "industry": "41",
        "workers_requested": rng.randint(1, 200),
        "monthly_wage": {"amount": "1500.00", "currency": "USD"},
        "worker_fee": {"amount": "0", "currency": "USD"},
        "legal_regime": "law_14_2025",
        "placement_channel": "licensed_agency",
        "contract_months": 24,
        "job_description": "Bricklaying on residential sites, 48 hours a week.",
        "contact_email": "demands@redsea.example",
    }


def serve(url: str, folder: Path, prefect: str,
          embedded_runs: int | None = None) -> tuple[subprocess.Popen[bytes], str]:  # fmt: skip
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPFLOW_", "PREFECT_"))}
    env.update(
        SOPFLOW_DATABASE_URL=url,
        SOPFLOW_DATA_DIR=str(folder / "data"),
        SOPFLOW_OUTBOX_DIR=str(folder / "outbox"),
        SOPFLOW_PREFECT_MODE=prefect,
        **({"SOPFLOW_EMBEDDED_RUNS": str(embedded_runs)} if embedded_runs else {}),
        PREFECT_HOME=str(folder / "prefect"),
    )
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(SOPFLOW), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"load: sopflow serve exited\n{(folder / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    sys.exit("load: sopflow serve did not answer within 180 s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="sopflow-load-"))
    try:
        url = database_url(args.database, folder, args.pg_database)
        tokens = seed(url, folder / "data", args.extra)
        server, base = serve(url, folder, args.prefect, args.embedded_runs)
        try:
            stats, budget = Stats(), Counter[str]()
            kinds = ["agent"] * 4 + ["official"] * 5 + ["auditor"]
            users, started = [], time.monotonic()
            for n in range(args.users):
                kind = kinds[n % len(kinds)]
                email, token = tokens[kind][n % len(tokens[kind])]
                users.append(
                    User(
                        kind,
                        email,
                        token,
                        base,
                        stats,
                        started + args.duration,
                        budget,
                        args.max_requests,
                        n,
                    )
                )
            for user in users:
                user.start()
            for user in users:
                user.join(timeout=args.duration + 120)
            elapsed = time.monotonic() - started
        finally:
            os.killpg(server.pid, 15)  # the server and the Prefect API it started
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    every = [x for values in stats.latency.values() for x in values]
    report = {
        "database": url.split("://")[0].split("+")[0],
        "prefect": args.prefect,
        "users": args.users,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "requests_per_second": round(len(every) / elapsed, 1),
        "status": dict(sorted(stats.status.items())),
        "server_errors": sum(
            v for k, v in stats.status.items() if not k.isdigit() or int(k) >= 500
        ),
        "failures": stats.failures[:10],
    }
    for kind, values in [("all", every), *sorted(stats.latency.items())]:
        report[kind] = {
            "count": len(values),
            **{f"p{p}_ms": round(percentile(values, p) * 1000, 1) for p in (50, 95, 99)},
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--pg-database", default="sopflow_load")
    parser.add_argument(
        "--prefect",
        default="off",
        choices=["off", "embedded"],
        help="how serve runs commands (embedded: one Prefect flow run each)",
    )
    parser.add_argument("--embedded-runs", type=int, default=None,
                        help="serve's SOPFLOW_EMBEDDED_RUNS (default: its own)")  # fmt: skip
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--extra", type=int, default=4, help="extra agents, attachés, clerks")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (a bound)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="a bound")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{report['database']} (prefect {report['prefect']}), {report['users']} users, "
            f"{report['seconds']} s: {report['requests']} requests, "
            f"{report['requests_per_second']} req/s, 5xx/errors: {report['server_errors']}"
        )
        for kind in ("all", "read", "action"):
            if kind in report:
                r = report[kind]
                print(
                    f"  {kind:6} n={r['count']:6}  p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  "
                    f"p99 {r['p99_ms']} ms"
                )
        print(f"  status: {report['status']}")
        for failure in report["failures"]:
            print(f"  ! {failure}")
    sys.exit(1 if report["server_errors"] else 0)


if __name__ == "__main__":
    main()
