"""The whole life of requests through the ``sopflow`` command only: the directory, every
final state of both shipped SOPs, reading, auditing, and a tampered database caught."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.settings import Settings
from sopflow.store.db import make_engine
from tests.e2e.conftest import Run, Sopflow
from tests.integration import world as w
from tests.integration.world import EG_PATH, TN_PATH, Step, email


# -- building blocks ---------------------------------------------------------------------
def create_directory(sopflow: Sopflow) -> None:
    for org in w.ORGS:
        args = [
            "org",
            "add",
            org.name,
            "--kind",
            org.kind,
            "--country",
            str(org.country),
            "--id",
            str(org.id),
        ]
        if org.licence_number:
            args += ["--licence", org.licence_number, "--licence-expires", str(org.licence_expires)]
        assert sopflow.ok(*args).last_line == org.id
    for who, person in w.PEOPLE.items():
        roles = [arg for role in person.roles for arg in ("--role", role)]
        args = ("user", "add", person.email, "--name", person.email.split("@")[0], "--org",
                person.org, *roles, "--locale", person.locale)  # fmt: skip
        if who in w.MISPLACED:  # a role its organisation could never use: refused
            refused = sopflow.fails(1, *args)
            assert f"a member of '{person.org}' would hold it on no request" in refused.err
            continue
        assert sopflow.ok(*args).last_line.isdigit()


def _documents(sopflow: Sopflow, kinds: tuple[str, ...]) -> list[str]:
    args = []
    for kind in kinds:
        args += ["--document", f"{kind}={sopflow.file(f'{kind}.pdf', w.pdf(kind))}"]
    return args


def tn_today() -> dict[str, Any]:
    """A Tunisian filing dated as of today (the CLI runs on the real clock, and the SOP
    refuses a stale attestation or a contract that has already started)."""
    return w.tn_data(**w.tn_dates(datetime.now(UTC)))


def submit(sopflow: Sopflow, sop: str, who: str, data: dict[str, Any]) -> str:
    kinds = w.EG_SUBMIT_DOCS if sop == w.EG else w.TN_SUBMIT_DOCS
    done = sopflow.ok(
        "request",
        "submit",
        "--sop",
        sop,
        "--as",
        email(who),
        "--data",
        sopflow.file("data.json", data),
        *_documents(sopflow, kinds),
    )
    assert "-> " in done.err  # what happened is told on stderr, the reference on stdout
    return done.last_line


def act(sopflow: Sopflow, ref: str, s: Step) -> Run:
    if s.trigger == "attach":
        return sopflow.ok(
            "request", "attach", ref, "--as", email(s.who), *_documents(sopflow, s.documents)
        )
    args = ["request", "act", ref, s.trigger, "--as", email(s.who)]
    if s.data:
        args += ["--data", sopflow.file(f"{s.trigger}.json", s.data)]
    if s.comment:
        args += ["--comment", s.comment]
    if s.reason:
        args += ["--reason", s.reason]
    return sopflow.ok(*args, *_documents(sopflow, s.documents))


def walk(sopflow: Sopflow, ref: str, steps: tuple[Step, ...]) -> str:
    state = ""
    for s in steps:
        result = act(sopflow, ref, s)
        state = result.last_line if s.trigger != "attach" else state
    return state


def show(sopflow: Sopflow, ref: str, who: str) -> dict[str, Any]:
    view: dict[str, Any] = sopflow.ok("request", "show", ref, "--as", email(who), "--json").json()
    return view


def sla_sweep_two_months_later(sopflow: Sopflow) -> dict[str, Any]:
    """``sopflow sla sweep`` run when every deadline of today has long passed."""
    with sopflow.clock_at(datetime.now(UTC) + timedelta(days=60)):
        report: dict[str, Any] = sopflow.ok("sla", "sweep", "--json").json()
    return report


def refusal(who: str, trigger: str, reason: str) -> Step:
    return Step(who, trigger, {}, comment="See the file.", reason=reason)


@pytest.fixture
def cli(sopflow: Sopflow) -> Sopflow:
    """``sopflow`` with the organisations and users of the world created through it."""
    create_directory(sopflow)
    return sopflow


# -- every final state -------------------------------------------------------------------
EG_ENDINGS = {
    "placed": EG_PATH,
    "rejected": (
        *w.eg_path_to("approve_demand"),
        refusal("employment_officer", "reject", "terms_below_standard"),
    ),
    "withdrawn": (Step("agent", "withdraw", {}),),
    "expired": (refusal("registry_clerk", "return_for_correction", "incomplete_documents"),),
}
TN_ENDINGS = {
    "visa_granted": TN_PATH,
    "refused": (
        *w.tn_path_to("grant_visa"),
        refusal("signatory", "refuse_visa", "tunisian_candidates_available"),
    ),
    "withdrawn": (Step("enterprise", "withdraw", {}),),
    "expired": (refusal("examiner", "return_for_correction", "cnss_not_up_to_date"),),
}


@pytest.mark.parametrize(
    ("sop", "who", "auditor", "ending", "steps"),
    [(w.EG, "agent", "eg_auditor", ending, steps) for ending, steps in EG_ENDINGS.items()]
    + [(w.TN, "enterprise", "tn_auditor", ending, steps) for ending, steps in TN_ENDINGS.items()],
    ids=[f"eg-{e}" for e in EG_ENDINGS] + [f"tn-{e}" for e in TN_ENDINGS],
)
def test_a_request_reaches_its_final_state_through_the_cli(
    cli: Sopflow, sop: str, who: str, auditor: str, ending: str, steps: tuple[Step, ...]
) -> None:
    data = w.eg_data() if sop == w.EG else tn_today()
    ref = submit(cli, sop, who, data)

    walk(cli, ref, steps)
    if ending == "expired":
        swept = sla_sweep_two_months_later(cli)
        assert swept["escalated"] == [{"reference": ref, "trigger": "expire", "state": "expired"}]

    view = show(cli, ref, who)
    assert (view["reference"], view["sop_id"], view["sop_version"]) == (ref, sop, 1)
    assert view["state"] == ending
    assert view["allowed_triggers"] == []
    assert view["data"]["contact_email"] == data["contact_email"]
    history = cli.ok("audit", "history", ref, "--as", email(auditor), "--json").json()
    assert history["events"][-1]["to_state"] == ending
    assert len(history["events"]) == view["seq"]
    assert cli.ok("audit", "replay", ref, "--as", email(auditor), "--json").json()["consistent"]
    assert cli.ok("audit", "verify", ref).code == 0


# -- reading -----------------------------------------------------------------------------
def test_show_list_and_inbox(cli: Sopflow) -> None:
    eg = submit(cli, w.EG, "agent", w.eg_data())
    tn = submit(cli, w.TN, "enterprise", tn_today())

    view = show(cli, eg, "agent")
    assert view["state"] == "attestation_review"
    assert view["allowed_triggers"] == ["withdraw"]
    assert {d["kind"] for d in view["documents"]} == set(w.EG_SUBMIT_DOCS)
    assert show(cli, eg, "labour_attache")["allowed_triggers"] == [
        "attest_demand",
        "reject",
        "return_for_correction",
    ]
    human = cli.ok("request", "show", eg, "--as", email("agent"))
    assert eg in human.out and "attestation_review" in human.out

    listed = cli.ok("request", "list", "--as", email("agent"), "--json").json()
    assert [r["reference"] for r in listed] == [eg]
    assert cli.ok("request", "list", "--as", email("other_agent"), "--json").json() == []
    by_sop = cli.ok("request", "list", "--as", email("tn_auditor"), "--sop", w.TN, "--json")
    assert [r["reference"] for r in by_sop.json()] == [tn]

    inbox = cli.ok("inbox", "--as", email("examiner"), "--json").json()
    assert [(i["reference"], i["allowed_triggers"]) for i in inbox] == [
        (tn, ["accept_filing", "return_for_correction"])
    ]
    assert cli.ok("inbox", "--as", email("employment_officer"), "--json").json() == []
    assert eg in cli.ok("inbox", "--as", email("registry_clerk")).out

    stranger = cli.fails(1, "request", "show", eg, "--as", email("other_agent"), "--json")
    assert stranger.err.strip() == f"error[not-found] no request '{eg}'"


def test_a_step_barred_by_separation_of_duties_is_offered_nowhere(cli: Sopflow) -> None:
    """One person with two roles registers a demand: neither the inbox nor ``request show``
    offers them the approval that must come from someone else."""
    head = "head@mom.example"
    cli.ok("user", "add", head, "--name", "Head", "--org", w.EG_AUTHORITY,
           "--role", "registry_clerk", "--role", "employment_officer")  # fmt: skip
    ref = submit(cli, w.EG, "agent", w.eg_data())
    walk(cli, ref, w.eg_path_to("register_demand"))
    register = w.eg_step("register_demand")
    cli.ok("request", "act", ref, "register_demand", "--as", head,
           "--data", cli.file("register.json", register.data))  # fmt: skip

    view = cli.ok("request", "show", ref, "--as", head, "--json").json()
    assert view["allowed_triggers"] == ["reject", "return_for_correction"]
    inbox = cli.ok("inbox", "--as", head, "--json").json()
    assert [i["allowed_triggers"] for i in inbox] == [view["allowed_triggers"]]
    human = cli.ok("request", "show", ref, "--as", head).out
    assert "may: reject, return_for_correction" in human
    line = next(x for x in human.splitlines() if x.strip().startswith("employment_officer:"))
    assert line.split("(")[0].strip() == "employment_officer: reject, return_for_correction"
    assert "not by you, separation of duties: approve_demand" in line
    # the operator's view still says who may approve it
    operator = cli.ok("request", "show", ref).out
    assert "employment_officer: approve_demand, reject, return_for_correction" in operator
    # its times as the lists give them: local to the authority, the zone named
    filed = datetime.fromisoformat(view["created_at"]).astimezone(ZoneInfo("Africa/Cairo"))
    assert f"on {filed:%Y-%m-%d %H:%M} (Africa/Cairo); deadline " in human


def test_the_sla_sweep_says_the_deadline_warnings_it_recorded(cli: Sopflow) -> None:
    ref = submit(cli, w.EG, "agent", w.eg_data())
    deadline = datetime.fromisoformat(show(cli, ref, "agent")["deadline"])

    with cli.clock_at(deadline - timedelta(hours=24)):  # inside the 48-hour warning window
        swept = cli.ok("sla", "sweep")
        again = cli.ok("sla", "sweep")

    assert swept.out.splitlines() == [
        "0 overdue, 0 breach(es) recorded, 0 escalated, 1 deadline warning(s) recorded",
        f"  {ref}: deadline warning",
    ]
    assert again.out.splitlines() == [
        "0 overdue, 0 breach(es) recorded, 0 escalated, 0 deadline warning(s) recorded"
    ]


def _events_and_notices(cli: Sopflow) -> tuple[int, int]:
    engine = make_engine(cli.env["SOPFLOW_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            events, notices = (conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                               for table in ("events", "outbox"))  # fmt: skip
            return events, notices
    finally:
        engine.dispose()


def test_the_sla_sweep_dry_run_says_what_a_sweep_at_a_later_moment_would_do(
    cli: Sopflow,
) -> None:
    ref = submit(cli, w.EG, "agent", w.eg_data())
    later = datetime.fromisoformat(show(cli, ref, "agent")["deadline"]) + timedelta(minutes=1)
    at = later.isoformat()
    before = _events_and_notices(cli)

    refused = cli.fails(2, "sla", "sweep", "--at", at)
    unreadable = cli.fails(2, "sla", "sweep", "--dry-run", "--at", "next friday")
    preview = cli.ok("sla", "sweep", "--dry-run", "--at", at)
    report = cli.ok("sla", "sweep", "--dry-run", "--at", at, "--json").json()

    assert "only with --dry-run" in " ".join(refused.err.split())
    assert "is not an ISO 8601 date or time" in " ".join(unreadable.err.split())
    lines = preview.out.splitlines()
    assert lines[0] == (f"Dry run of a sweep at {at}: 1 overdue, 1 breach(es), 0 escalated, "
                        "0 deadline warning(s) would be recorded")  # fmt: skip
    assert lines[1].startswith(f"  {ref}: breach ({w.EG}, attestation_review, deadline ")
    deadline = datetime.fromisoformat(report["requests"][ref]["deadline"])
    # on Cairo's calendar, to the minute, with its offset
    assert lines[1].endswith(f"deadline {deadline.isoformat(' ', 'minutes')})")
    assert lines[-1] == "Nothing was recorded or sent."
    assert (report["dry_run"], report["breached"]) == (True, [ref])
    assert _events_and_notices(cli) == before
    # the sweep at that moment does what the dry run said
    with cli.clock_at(later):
        swept = cli.ok("sla", "sweep", "--json").json()
    assert swept == {k: report[k] for k in swept}
    assert _events_and_notices(cli)[0] == before[0] + 1


def test_list_and_inbox_give_deadlines_in_the_sops_time_zone(cli: Sopflow) -> None:
    ref = submit(cli, w.TN, "enterprise", tn_today())
    item = cli.ok("inbox", "--as", email("examiner"), "--json").json()[0]
    deadline = datetime.fromisoformat(item["deadline"])
    assert deadline.utcoffset() is not None  # the JSON keeps the instant, with its offset
    local = f"{deadline.astimezone(ZoneInfo('Africa/Tunis')):%Y-%m-%d %H:%M} (Africa/Tunis)"
    assert local.split()[1] == "23:59"  # the end of a working day in Tunis
    utc = f"{deadline.astimezone(UTC):%Y-%m-%dT%H:%M}"

    for table in (cli.ok("inbox", "--as", email("examiner")).out,
                  cli.ok("request", "list", "--as", email("examiner")).out,
                  cli.ok("request", "list").out):  # fmt: skip
        row = next(line for line in table.splitlines() if ref in line)
        assert local in row and utc not in row


def test_the_operator_reads_without_as(cli: Sopflow) -> None:
    """The contract's reads (issue 3) work without --as: the operator at the command line
    holds the database, so they see every request and who may do what next."""
    eg = submit(cli, w.EG, "agent", w.eg_data())
    tn = submit(cli, w.TN, "enterprise", tn_today())

    view = cli.ok("request", "show", eg, "--json").json()
    assert (view["reference"], view["state"], view["your_roles"]) == (
        eg, "attestation_review", [])  # fmt: skip
    by_role = view["next_steps_by_role"]
    assert by_role["employer_agent"] == ["withdraw"]
    assert view["allowed_triggers"] == sorted({t for ts in by_role.values() for t in ts})
    human = cli.ok("request", "show", eg).out
    assert "labour_attache: attest_demand" in human and "you (" not in human

    everything = cli.ok("request", "list", "--json").json()
    assert {r["reference"] for r in everything} == {eg, tn}
    assert all(r["your_triggers"] == [] for r in everything)
    only_tn = cli.ok("request", "list", "--sop", w.TN, "--json").json()
    assert [r["reference"] for r in only_tn] == [tn]

    history = cli.ok("audit", "history", eg, "--json").json()
    assert [e["trigger"] for e in history["events"]] == ["create", "submit"]
    assert cli.ok("audit", "replay", tn, "--json").json()["consistent"]

    # a filter naming nothing that exists is pointed out, not answered with an empty list
    typo = cli.fails(2, "request", "list", "--state", "aproved")
    assert "no SOP has a state 'aproved'; states: " in " ".join(typo.err.split())
    wrong_sop = cli.fails(2, "request", "list", "--sop", w.EG, "--state", "examination")
    assert f"SOP '{w.EG}' has no state 'examination'" in " ".join(wrong_sop.err.split())
    assert "no SOP 'nope'" in cli.fails(1, "request", "list", "--sop", "nope").err
    assert "no organisation 'nope'" in cli.fails(2, "request", "list", "--org", "nope").err

    missing = cli.fails(1, "request", "show", "EG-2026-999999")
    assert missing.err.strip() == "error[not-found] no request 'EG-2026-999999'"
    # acting still names who acts
    assert cli("request", "act", eg, "withdraw").code == 2


# -- auditing ----------------------------------------------------------------------------
def _tamper(database_url: str, statement: str, **params: Any) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def test_history_replay_verify_export_and_a_tampered_database(cli: Sopflow) -> None:
    ref = submit(cli, w.EG, "agent", w.eg_data())
    walk(cli, ref, w.eg_path_to("approve_advertisement"))  # up to the advertisement filed
    auditor = email("eg_auditor")

    history = cli.ok("audit", "history", ref, "--as", auditor, "--json").json()
    assert [e["trigger"] for e in history["events"]] == [
        "create",
        "submit",
        "attest_demand",
        "register_demand",
        "approve_demand",
        "submit_advertisement",
    ]
    assert history["events"][2]["actor"] == email("labour_attache")
    assert history["events"][1]["notices"]
    table = cli.ok("audit", "history", ref, "--as", auditor)
    assert "register_demand" in table.out and "notified" in table.out
    cited = next(e for e in history["events"] if e["legal_citation"])
    assert f"clause {cited['legal_clause']}: {cited['legal_citation']}" in table.out
    # the licence on record each step relied on, as recorded with it
    assert (
        "seq 2: agency_licence_valid relied on licence EG-LIC-0042, agency nile-agency, "
        "status active, expires 2028-12-31" in table.out
    )

    at_seq = cli.ok("audit", "replay", ref, "--as", auditor, "--at-seq", "3", "--json").json()
    assert (at_seq["state"], at_seq["events_applied"]) == ("demand_intake", 3)
    registered_at = history["events"][3]["at"]
    as_of = cli.ok(
        "audit", "replay", ref, "--as", auditor, "--as-of", registered_at, "--json"
    ).json()
    assert (as_of["state"], as_of["events_applied"]) == ("demand_under_review", 4)
    moment = datetime.fromisoformat(registered_at) - timedelta(microseconds=1)
    before = cli.ok(
        "audit", "replay", ref, "--as", auditor, "--as-of", moment.isoformat(), "--json"
    ).json()
    assert before["state"] == "demand_intake"
    filed = history["events"][0]["at"]
    too_early = cli.ok("audit", "replay", ref, "--as-of", "2020-01-01")
    assert f"not filed yet (its first event is at {filed})" in too_early.out
    empty_key = cli.fails(2, "request", "act", ref, "approve_advertisement", "--as",
                          email("director"), "--idempotency-key", " ")  # fmt: skip
    assert "an empty key" in empty_key.err
    both = cli.fails(2, "audit", "replay", ref, "--at-seq", "1", "--as-of", "2099-01-01")
    assert "give --as-of or --at-seq, not both" in both.err
    assert "an empty moment" in cli.fails(2, "audit", "replay", ref, "--as-of", "").err
    for beyond in ("0", "-1", "7"):
        refused = cli.fails(1, "audit", "replay", ref, "--at-seq", beyond)
        assert refused.err.strip() == (
            f"error[invalid-data] invalid replay: at_seq: request {ref} has events 1 to 6; "
            f"there is no event {beyond}"
        )

    assert cli.ok("audit", "verify").code == 0
    assert "intact" in cli.ok("audit", "verify", "--json").out
    export = cli.folder / "events.jsonl"
    cli.ok("audit", "export", "--format", "jsonl", "--output", str(export))
    assert cli.ok("audit", "check-export", str(export)).code == 0
    # a date names its whole day (as on the web): one day's export holds that day's events
    today = filed[:10]
    day = cli.ok("audit", "export", "--from", today, "--to", today, "--output", str(export))
    assert "wrote 6 event(s)" in day.err
    backwards = cli("audit", "export", "--from", today, "--to", "2020-01-01")
    assert backwards.code == 2 and "is before --from" in backwards.err
    lost = cli.folder / "no" / "x.jsonl"
    nowhere = cli.fails(1, "audit", "export", "--output", str(lost))
    assert nowhere.err.strip() == (
        f"error[invalid-data] invalid export: output: {lost}: No such file or directory"
    )
    assert "Is a directory" in cli.fails(1, "audit", "export", "--output", str(cli.folder)).err
    assert cli.fails(2, "audit", "export", "--format", "xml").err.count("'xml' is not one of")
    cli.ok("audit", "export", "--format", "JSONL", "--output", str(export))  # any case

    _tamper(
        cli.env["SOPFLOW_DATABASE_URL"],
        "UPDATE events SET actor_id = 'mallory@mom.example' WHERE seq = 3",
    )

    broken = cli.fails(1, "audit", "verify")
    assert "NOT INTACT" in broken.err and f"{ref} seq 3" in broken.err
    assert cli.fails(1, "audit", "verify", ref, "--json").json()["first_break"]["seq"] == 3
    lines = export.read_text("utf-8").replace(email("registry_clerk"), "mallory@mom.example")
    export.write_text(lines, "utf-8")
    assert cli.fails(1, "audit", "check-export", str(export)).code == 1


def test_an_export_scoped_to_one_sop_redacts_the_others_and_still_checks(cli: Sopflow) -> None:
    eg = submit(cli, w.EG, "agent", w.eg_data())
    tn = submit(cli, w.TN, "enterprise", tn_today())
    export = cli.folder / "tn-events.jsonl"

    done = cli.ok("audit", "export", "--sop", w.TN, "--output", str(export))
    text = export.read_text("utf-8")
    manifest = json.loads((cli.folder / "tn-events.jsonl.manifest.json").read_text("utf-8"))

    assert "redacted to their hashes" in done.err and manifest["scope"] == [w.TN]
    assert "of users redacted to their hashes) to " in done.err
    assert tn in text and eg not in text and "Red Sea" not in text
    checked = cli.ok("audit", "check-export", str(export))
    assert checked.code == 0 and "directory log: " in checked.out
    unknown = cli.fails(1, "audit", "export", "--sop", "no-such-sop", "--output", str(export))
    assert "no-such-sop" in unknown.err


def test_an_export_from_before_the_directory_log_checks_and_says_so(cli: Sopflow) -> None:
    submit(cli, w.TN, "enterprise", tn_today())
    export = cli.folder / "events.jsonl"
    cli.ok("audit", "export", "--output", str(export))
    manifest_path = cli.folder / "events.jsonl.manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    (cli.folder / manifest.pop("directory_log")["file"]).unlink()
    del manifest["manifest_version"]  # as exports were written before the directory log
    manifest_path.write_text(json.dumps(manifest), "utf-8")

    checked = cli.ok("audit", "check-export", str(export))
    as_json = cli.ok("audit", "check-export", str(export), "--json").json()

    assert checked.out.startswith("intact: ") and "directory log" not in checked.out
    assert "note: the directory log was not part of this export" in checked.err
    assert as_json["intact"] and as_json["notes"][0].startswith("the directory log was not part")


def test_verify_holds_the_database_to_both_heads_of_an_earlier_manifest(cli: Sopflow) -> None:
    submit(cli, w.TN, "enterprise", tn_today())
    export = cli.folder / "events.jsonl"
    cli.ok("audit", "export", "--output", str(export))
    manifest_path = cli.folder / "events.jsonl.manifest.json"

    assert cli.ok("audit", "verify", "--anchor", str(manifest_path)).code == 0
    manifest = json.loads(manifest_path.read_text("utf-8"))
    head = manifest["directory_log"]["head"]
    head["hash"] = "f" * 64  # a log that no longer holds the entry this manifest saw
    manifest_path.write_text(json.dumps(manifest), "utf-8")

    broken = cli.fails(1, "audit", "verify", "--anchor", str(manifest_path), "--json").json()
    assert broken["first_break"]["code"] == "directory-anchor-mismatch"
    assert f"anchored entry #{head['seq']} (ffffffffffffffff…)" in broken["first_break"]["message"]


def test_a_deleted_event_is_caught_by_the_installed_command(cli: Sopflow) -> None:
    ref = submit(cli, w.TN, "enterprise", tn_today())
    walk(cli, ref, w.tn_path_to("endorse_opinion"))

    assert cli.installed("audit", "verify").code == 0
    _tamper(cli.env["SOPFLOW_DATABASE_URL"], "DELETE FROM outbox WHERE event_seq = 2")
    _tamper(cli.env["SOPFLOW_DATABASE_URL"], "DELETE FROM events WHERE seq = 2")

    broken = cli.installed("audit", "verify")
    assert broken.code == 1
    assert "NOT INTACT" in broken.err and ref in broken.err


# -- exit codes --------------------------------------------------------------------------
def test_malformed_json_data_is_refused_with_its_line_and_column(cli: Sopflow) -> None:
    data = cli.file("broken.json", '{\n  "employer_name": "Red Sea",\n  "workers_requested": ,\n}')

    for result in (
        cli("request", "submit", "--sop", w.EG, "--as", email("agent"), "--data", data),
        cli.installed("request", "submit", "--sop", w.EG, "--as", email("agent"), "--data", data),
    ):
        assert result.code == 1
        assert f"{data}:3:24:" in result.err
        assert "error[invalid-data]" in result.err
    twice = cli.file("twice.json", '{"employer_name": "A", "employer_name": "B"}')
    not_a_number = cli.file("nan.json", '{"workers_requested": NaN}')
    for path, why in ((twice, 'the key "employer_name" is given twice'),
                      (not_a_number, "NaN is not a JSON number")):  # fmt: skip
        refused = cli.fails(1, "request", "submit", "--sop", w.EG, "--as", email("agent"),
                            "--data", path)  # fmt: skip
        assert f"{path}: {why}" in refused.err
    assert cli.ok("request", "list", "--as", email("agent"), "--json").json() == []


def test_a_bad_setting_is_refused_naming_its_variable(sopflow: Sopflow) -> None:
    bad = {"SOPFLOW_MAX_DOCUMENT_MB": "lots", "SOPFLOW_PREFECT_MODE": "fast"}
    refused = Sopflow({**sopflow.env, **bad}, sopflow.folder).installed("request", "list")

    assert refused.code == 1
    assert refused.err.startswith("error[invalid-data] invalid settings: ")
    assert "SOPFLOW_MAX_DOCUMENT_MB: Input should be a valid integer" in refused.err
    assert "SOPFLOW_PREFECT_MODE: Input should be 'embedded', 'deployments' or 'off'" in refused.err
    assert "Traceback" not in refused.err
    lost = Sopflow({**sopflow.env, "SOPFLOW_SOP_DIR": str(sopflow.folder / "no-such-dir")},
                   sopflow.folder).installed("sop", "list")  # fmt: skip
    assert lost.code == 1
    assert "SOPFLOW_SOP_DIR: Path does not point to a directory" in lost.err  # not ignored
    blocked = sopflow.folder / "a-file"
    blocked.write_text("", encoding="utf-8")
    unmade = Sopflow({**sopflow.env, "SOPFLOW_DATA_DIR": str(blocked / "data")},
                     sopflow.folder).installed("request", "list")  # fmt: skip
    assert unmade.code == 1
    assert unmade.err.strip() == (f"error[invalid-data] invalid settings: SOPFLOW_DATA_DIR: "
                                  f"{blocked / 'data'}: Not a directory")  # fmt: skip


def test_rejected_commands_exit_1_with_the_reason_on_stderr(cli: Sopflow) -> None:
    ref = submit(cli, w.EG, "agent", w.eg_data())

    wrong_role = cli.fails(1, "request", "act", ref, "attest_demand", "--as", email("director"))
    assert wrong_role.err.startswith("error[role-forbidden]")
    missing = cli.fails(1, "request", "act", ref, "attest_demand", "--as", email("labour_attache"))
    assert "error[requirement-not-met]" in missing.err and "attestation" in missing.err
    unknown = cli.fails(1, "request", "act", "EG-2026-999999", "withdraw", "--as", email("agent"))
    assert unknown.err.strip() == "error[not-found] no request 'EG-2026-999999'"
    bad_data = cli.fails(
        1,
        "request",
        "submit",
        "--sop",
        w.EG,
        "--as",
        email("agent"),
        "--data",
        cli.file("bad.json", w.eg_data(contract_months=99)),
    )
    # one refusal lists the bad value and what filing will also need (no documents given)
    assert bad_data.err.count("error[") == 1
    assert "contract_months" in bad_data.err
    assert "document:demand_letter: must be attached" in bad_data.err
    png = cli.file("letter.pdf", w.png())
    mislabelled = cli.fails(
        1, "request", "attach", ref, "--as", email("agent"), "--document", f"demand_letter={png}"
    )
    assert "error[invalid-data]" in mislabelled.err and "contains image/png" in mislabelled.err
    assert show(cli, ref, "agent")["seq"] == 2


def test_db_upgrade_says_what_it_applied(sopflow: Sopflow, tmp_path: Path) -> None:
    current = sopflow.ok("db", "upgrade").err
    assert "is up to date (migration " in current and "nothing to apply" in current

    # a new database, in a process of its own (the in-process CLI keeps its settings)
    fresh = Sopflow({**sopflow.env, "SOPFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"},
                    sopflow.folder)  # fmt: skip
    created = fresh.installed("db", "upgrade")
    assert created.code == 0 and "upgraded from an empty database to migration " in created.err
    again = fresh.installed("db", "upgrade")
    assert again.code == 0 and "nothing to apply" in again.err


def test_unreferenced_documents_are_pruned_from_the_command_line(cli: Sopflow) -> None:
    submit(cli, w.EG, "agent", w.eg_data())  # its documents are referenced: kept

    dry = cli.ok("db", "prune-documents", "--dry-run")
    done = cli.ok("db", "prune-documents", "--older-than", "48")

    assert dry.err.startswith("would remove 0 file(s), 0 bytes, that no request refers to; ")
    assert "kept 2 referenced" in dry.err
    assert done.err.startswith("removed 0 file(s)") and "last 48 hour(s)" in done.err
    assert cli("db", "prune-documents", "--older-than", "1").code == 2  # inside a session


def test_every_bad_file_is_named_at_once_and_none_is_stored(cli: Sopflow) -> None:
    ref = submit(cli, w.EG, "agent", w.eg_data())
    empty = cli.file("empty.pdf", b"")
    picture = cli.file("letter.pdf", w.png())

    refused = cli.fails(1, "request", "attach", ref, "--as", email("agent"),
                        "--document", f"attestation={empty}",
                        "--document", f"demand_letter={picture}")  # fmt: skip

    assert "empty.pdf is empty" in refused.err and "letter.pdf" in refused.err
    assert "kept 2 referenced and 0 written" in cli.ok("db", "prune-documents", "--dry-run").err


def test_usage_errors_exit_2(cli: Sopflow) -> None:
    assert cli("inbox").code == 2  # --as is required: an inbox is someone's
    assert cli("request", "frobnicate").code == 2
    assert (
        cli(
            "audit", "replay", "EG-2026-000001", "--as", email("eg_auditor"), "--as-of", "yesterday"
        ).code
        == 2
    )
    assert cli.installed("request", "act").code == 2


def test_the_directory_refuses_bad_organisations_and_users(sopflow: Sopflow) -> None:
    no_licence = sopflow.fails(1, "org", "add", "Shady Agency", "--kind", "agency")
    assert "error[invalid-data]" in no_licence.err and "licence" in no_licence.err
    nowhere = sopflow.fails(1, "org", "add", "Atlantis Co", "--kind", "employer", "--country", "ZZ")
    assert "country: 'ZZ' is not an ISO 3166-1 alpha-2 country code" in nowhere.err
    endless = sopflow.fails(1, "org", "add", "N" * 5000, "--kind", "employer", "--id", "endless")
    assert "name: at most 200 characters (5000 given)" in endless.err
    assert (
        sopflow.ok(
            "org",
            "add",
            "Nile Recruitment",
            "--kind",
            "agency",
            "--country",
            "EG",
            "--licence",
            "L-1",
            "--licence-expires",
            "2028-12-31",
        ).last_line
        == "nile-recruitment"
    )
    unknown_role = sopflow.fails(
        1,
        "user",
        "add",
        "x@nile.example",
        "--name",
        "X",
        "--org",
        "nile-recruitment",
        "--role",
        "pharaoh",
    )
    assert "unknown-role" in unknown_role.err or "pharaoh" in unknown_role.err
    where = ["--name", "X", "--org", "nile-recruitment", "--role", "employer_agent"]
    german = sopflow.fails(2, "user", "add", "x@nile.example", *where, "--locale", "de")
    assert "'de' is not one of 'ar', 'fr', 'en'" in german.err
    assert sopflow.ok("user", "add", "x@nile.example", *where, "--locale", "AR").last_line.isdigit()
    suspended = sopflow.ok("org", "licence", "nile-recruitment", "--status", "suspended")
    assert "suspended" in suspended.err


def test_an_administrator_reads_the_directorys_licences(sopflow: Sopflow) -> None:
    sopflow.ok("org", "add", "Nile Recruitment", "--kind", "agency", "--country", "EG",
               "--licence", "RA-2024-117", "--licence-expires", "2030-06-30")  # fmt: skip
    sopflow.ok("org", "add", "Red Sea Construction", "--kind", "employer", "--country", "SA")

    renewed = sopflow.ok("org", "licence", "nile-recruitment", "--status", "active",
                         "--expires", "2035-06-30")  # fmt: skip
    agencies = sopflow.ok("org", "list", "--kind", "agency", "--json").json()
    shown = sopflow.ok("org", "show", "nile-recruitment")
    missing = sopflow.fails(1, "org", "show", "nile")

    assert "nile-recruitment: licence RA-2024-117 active, expires 2035-06-30" in renewed.err
    assert [(o["id"], o["licence_number"], o["licence_expires"]) for o in agencies] == [
        ("nile-recruitment", "RA-2024-117", "2035-06-30")]  # fmt: skip
    assert "licence_status: active" in shown.out and "country: EG" in shown.out
    assert "no organisation 'nile'" in missing.err
    assert "red-sea-construction" in sopflow.ok("org", "list").out


def test_an_administrator_signs_a_user_out_of_every_session(
    sopflow: Sopflow, database_url: str, tmp_path
) -> None:
    sopflow.ok("org", "add", "Nile Recruitment", "--kind", "agency", "--country", "EG",
               "--licence", "RA-2024-117", "--licence-expires", "2030-06-30")  # fmt: skip
    sopflow.ok("user", "add", "amal@nile.example", "--name", "Amal", "--org",
               "nile-recruitment", "--role", "employer_agent")  # fmt: skip
    services = bootstrap.build(Settings(database_url=database_url, data_dir=tmp_path / "d"))
    browsers = [services.sessions.open("amal@nile.example") for _ in range(2)]

    done = sopflow.ok("user", "sign-out", " Amal@Nile.example")

    assert "amal@nile.example: 2 session(s) ended" in done.err
    assert [services.sessions.holder(token) for token in browsers] == [None, None]
    assert "0 session(s) ended" in sopflow.ok("user", "sign-out", "amal@nile.example").err
    assert (
        "no user 'amal@nile.exmple'" in sopflow.fails(1, "user", "sign-out", "amal@nile.exmple").err
    )
    services.ctx.store.engine.dispose()
