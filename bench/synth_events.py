"""Fill a database with a large, valid, hash-chained event log, fast (for `audit verify`
and statistics benchmarks). Requests follow the benchmark SOP's straight path; every hash
is computed with the production chain functions, so verification must find it intact."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sopflow.domain.chain import GENESIS, canonical_time, event_hash, link
from sopflow.domain.directory_log import ORG_ADDED, org_record
from sopflow.sop_files import compile_file
from sopflow.store import directory_log
from sopflow.store.db import make_engine, upgrade
from sopflow.store.repository import Store

HERE = Path(__file__).resolve().parent
LICENCE = {"rule": "agency_licence_valid", "agency": "synth-agency", "licence": "SY-LIC-1",
           "status": "active", "expires": "2030-12-31"}  # fmt: skip
PATH = [("create", None, "draft", "employer_agent"),
        ("submit", "draft", "submitted", "employer_agent"),
        ("approve", "submitted", "intake_review", "registry_clerk"),
        ("approve", "intake_review", "documents_verification", "intake_officer"),
        ("approve", "documents_verification", "labour_market_check", "documents_officer"),
        ("approve", "labour_market_check", "directorate_approval", "labour_market_analyst"),
        ("approve", "directorate_approval", "contract_attestation", "director"),
        ("approve", "contract_attestation", "approved", "attestation_officer")]  # fmt: skip


def fill(url: str, events: int, batch: int = 5000) -> int:
    sop = compile_file(HERE / "peer-recruitment-approval.v1.yaml")
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    per_request = len(PATH)
    n_requests = max(1, events // per_request)
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    with store.write() as w:
        # an agency whose licence every step after the filing relies on (its ``grounds``,
        # as the Egyptian SOP's steps record them), so that verification also holds the
        # steps against the directory log, as it does on a real log
        org = {"id": "synth-agency", "name": "Synthetic agency", "kind": "agency",
               "licence_number": LICENCE["licence"], "licence_status": "active",
               "licence_expires": date.fromisoformat(LICENCE["expires"]),
               "created_at": start}  # fmt: skip
        w.insert("organisations", org)
        directory_log.record(w, start, "bench", ORG_ADDED, org["id"], org_record(org))
        w.insert("sop_versions", {"sop_id": sop.spec.id, "version": sop.spec.version,
                                  "content_hash": sop.content_hash, "text": sop.text,
                                  "source": sop.file, "published_at": start})  # fmt: skip
    head = (0, GENESIS)
    made = 0
    for first in range(0, n_requests, batch):
        with store.write() as w:
            for i in range(first, min(first + batch, n_requests)):
                head = _request(w, sop, i, start + timedelta(minutes=i), head)
                made += per_request
            w.execute(
                "UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = 1",
                {"s": head[0], "h": head[1]},
            )
    engine.dispose()
    return made


def _request(w, sop, i: int, at: datetime, head: tuple[int, str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    reference = f"{sop.spec.reference_prefix}-2026-{i + 1:07d}"
    request_id = w.insert("requests", {
        "reference": reference, "sop_id": sop.spec.id, "sop_version": sop.spec.version,
        "sop_hash": sop.content_hash, "organisation_id": "synth-agency",
        "created_by": f"{PATH[0][3]}-0@synth", "state": "approved", "outcome": "approved",
        "snapshot": {"state": "approved", "data": {}, "seq": len(PATH)}, "seq": len(PATH),
        "last_hash": "", "deadline": None, "breached": False, "version": len(PATH),
        "created_at": at, "updated_at": at}, returning=True)  # fmt: skip
    prev = GENESIS
    chain_seq, chain_prev = head
    for seq, (trigger, src, dst, role) in enumerate(PATH, start=1):
        moment = at + timedelta(seconds=seq)
        fields = {"seq": seq, "trigger": trigger, "from_state": src, "to_state": dst,
                  "actor_id": f"{role}-0@synth", "role": role, "acting_for": None,
                  "payload": {"comment": f"{trigger} step {seq}"}
                  | ({"organisation": "synth-agency"} if seq == 1 else {"grounds": [LICENCE]}),
                  "comment": None,
                  "reason": None, "legal_clause": "workload", "sop_id": sop.spec.id,
                  "sop_version": sop.spec.version, "sop_hash": sop.content_hash, "at": moment,
                  "flow_run_id": None}  # fmt: skip
        own = event_hash(
            {**fields, "reference": reference, "prev_hash": prev, "at": canonical_time(moment)}
        )
        chain_seq += 1
        chained = link(chain_prev, own)
        w.insert("events", {**fields, "request_id": request_id, "prev_hash": prev, "hash": own,
                            "chain_seq": chain_seq, "chain_prev": chain_prev,
                            "chain_hash": chained})  # fmt: skip
        prev, chain_prev = own, chained
    w.execute("UPDATE requests SET last_hash = :h WHERE id = :id", {"h": prev, "id": request_id})
    return chain_seq, chain_prev


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, help="database URL (sqlite:///path or postgresql)")
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    made = fill(args.db, args.events)
    print(f"{made} events in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
