"""Notices: written with their event, delivered after commit with proof, retried with
backoff on retryable failures, dead-lettered and retryable by hand; against a local fake
SendGrid server and the file channel."""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifications.channels import FileChannel, SendGridChannel
from notifications.render import TemplateRenderer
from sopflow import bootstrap
from sopflow.domain.ports import Message
from sopflow.errors import AdapterError, CommandRejected, NotFound, RoleForbidden
from sopflow.services import Notices, Services
from sopflow.settings import Settings
from tests.fakes.sendgrid import FakeSendGrid
from tests.integration import world

ARABIC = re.compile(r"[\u0600-\u06ff]")


def use_channel(services: Services, channel: object) -> Notices:
    notices = Notices(services.ctx, TemplateRenderer(), channel, "no-reply@sopflow.test",  # type: ignore[arg-type]
                      "https://sopflow.test")  # fmt: skip
    services.configure_notices(lambda: notices)
    return notices


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sendgrid(seeded: Services, fake: FakeSendGrid) -> Notices:
    return use_channel(seeded, SendGridChannel("SG.test-key", fake.url, timeout=0.5))


def outbox(services: Services, status: str | None = None) -> list[dict]:
    return services.notices.listing(status)


def test_a_step_writes_its_notices_and_a_refused_step_writes_none(sendgrid, seeded):
    before = len(outbox(seeded))
    with pytest.raises(RoleForbidden):
        seeded.commands.submit(world.EG, world.email("registry_clerk"), world.Command())
    assert len(outbox(seeded)) == before

    world.submit_eg(seeded)
    rows = outbox(seeded)
    kinds = {(r["template"], r["recipient_kind"]) for r in rows}
    assert ("request_submitted", "requester") in kinds
    assert any(t == "action_required" and k.startswith("role:") for t, k in kinds)
    assert all(r["status"] in ("pending", "unroutable") for r in rows)


def test_delivery_sends_each_notice_once_and_keeps_the_proof(sendgrid, seeded, fake):
    result = world.submit_eg(seeded)
    pending = outbox(seeded, "pending")

    report = seeded.notices.deliver()
    again = seeded.notices.deliver()

    assert report.sent == len(pending) and again.sent == 0
    assert sorted(fake.message_ids()) == sorted(r["message_id"] for r in pending)
    for row in outbox(seeded, "sent"):
        assert row["provider_message_id"].startswith("fake-")
        assert row["template_version"] and len(row["subject_hash"]) == 64
        assert len(row["body_hash"]) == 64 and row["sent_at"] is not None
        assert row["attempt_log"][-1]["ok"] is True
    history = seeded.audit.history(result.reference, world.email("eg_auditor"))
    notices = [n for e in history["events"] for n in e["notices"]]
    assert any(n["status"] == "sent" and n["provider_message_id"] for n in notices)


def test_the_recipient_locale_picks_the_language(sendgrid, seeded, fake):
    world.submit_eg(seeded)  # the agent's locale is Arabic, the officer's English
    seeded.notices.deliver()
    by_to = {m["personalizations"][0]["to"][0]["email"]: m for m in fake.accepted}
    arabic = by_to[world.email("agent")]
    html = next(c["value"] for c in arabic["content"] if c["type"] == "text/html")
    assert ARABIC.search(arabic["subject"]) and 'dir="rtl"' in html
    english = by_to[world.email("labour_attache")]
    assert not ARABIC.search(english["subject"])


def test_a_retryable_failure_backs_off_then_delivers_once(sendgrid, seeded, fake, clock):
    world.submit_eg(seeded)
    first = min(outbox(seeded, "pending"), key=lambda r: r["id"])  # the first one due
    fake.answer("500", "429")

    report = seeded.notices.deliver(limit=1)
    assert report.retrying == 1 and report.sent == 0
    row = next(r for r in outbox(seeded) if r["id"] == first["id"])
    assert row["status"] == "pending" and row["attempts"] == 1 and "500" in row["last_error"]

    for _ in range(3):
        clock.advance(minutes=10)
        seeded.notices.deliver()
    row = next(r for r in outbox(seeded) if r["id"] == first["id"])
    assert row["status"] == "sent"
    assert fake.message_ids().count(first["message_id"]) == 1
    assert [a["ok"] for a in row["attempt_log"]][-1] is True


def test_a_permanent_failure_is_dead_at_once_and_can_be_retried(sendgrid, seeded, fake):
    world.submit_eg(seeded)
    fake.default = "400"
    seeded.notices.deliver()
    dead = outbox(seeded, "dead")
    assert dead and all(r["attempts"] == 1 and "400" in r["last_error"] for r in dead)

    fake.default = "202"
    with pytest.raises(NotFound, match="no notice 99999"):
        seeded.notices.retry([dead[0]["id"], 99999])
    assert seeded.notices.retry([dead[0]["id"]]) == 1
    with pytest.raises(CommandRejected, match=f"only dead notices .*: {dead[0]['id']} is pending"):
        seeded.notices.retry([dead[0]["id"]])
    assert seeded.notices.retry(all_dead=True) == len(dead) - 1
    assert seeded.notices.deliver().sent == len(dead)
    assert not outbox(seeded, "dead")


def test_an_outage_of_any_length_loses_nothing_and_sends_nothing_twice(sendgrid, seeded,
                                                                       fake, clock):  # fmt: skip
    world.submit_eg(seeded)
    notices = {r["message_id"] for r in outbox(seeded, "pending")}
    fake.default = "503"
    for _ in range(12):  # more attempts than allowed: every notice ends dead, none lost
        clock.advance(hours=7)
        seeded.notices.deliver()
    assert {r["message_id"] for r in outbox(seeded, "dead")} == notices
    assert fake.accepted == []

    fake.default = "202"
    seeded.notices.retry(all_dead=True)
    seeded.notices.deliver()
    assert sorted(fake.message_ids()) == sorted(notices)


def test_a_stalled_provider_is_retried_under_the_same_message_id(sendgrid, seeded, fake,
                                                                 clock):  # fmt: skip
    world.submit_eg(seeded)
    first = min(outbox(seeded, "pending"), key=lambda r: r["id"])
    fake.stall_seconds = 1.0
    fake.answer("stall")
    seeded.notices.deliver(limit=1)
    clock.advance(minutes=5)
    seeded.notices.deliver()
    ids = [m for m in fake.message_ids() if m == first["message_id"]]
    # at least once: the stalled copy may have been accepted; both carry the same id
    assert 1 <= len(ids) <= 2
    assert next(r for r in outbox(seeded) if r["id"] == first["id"])["status"] == "sent"


def test_a_notice_to_an_address_from_the_data_carries_no_sign_in_link(seeded, tmp_path):
    """The employer's contact is told by e-mail but is no user: a link to the request would
    meet a sign-in page. The users told of the same step get it."""
    use_channel(seeded, FileChannel(tmp_path / "outbox"))
    world.submit_eg(seeded)
    seeded.notices.deliver()
    bodies = {}
    for path in (tmp_path / "outbox").glob("*.eml"):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = parsed.get_body(preferencelist=("plain",)).get_content()
        bodies.setdefault(parsed["To"], []).append(text)
    contact = world.eg_data()["contact_email"]
    assert bodies[contact] and not any("/requests/" in b for b in bodies[contact])
    others = [b for to, texts in bodies.items() if to != contact for b in texts]
    assert others and all("/requests/" in b for b in others)


def test_the_file_channel_writes_one_eml_per_notice(seeded, tmp_path):
    use_channel(seeded, FileChannel(tmp_path / "outbox"))
    world.submit_eg(seeded)
    pending = outbox(seeded, "pending")
    seeded.notices.deliver()
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == len(pending)
    parsed = email.message_from_bytes(files[0].read_bytes())
    assert parsed["Message-ID"].strip("<>") in {r["message_id"] for r in pending}
    assert parsed.is_multipart()
    # in UTC said so (RFC 5322: "-0000" would mean a zone unknown), an automatic message
    # (RFC 3834: no out-of-office replies), in the language it is written in
    assert parsed["Date"].endswith("+0000")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] in ("ar", "fr", "en")
    # a retry of a notice already written writes no second file
    channel = FileChannel(tmp_path / "outbox")
    name = channel.path_of(pending[0]["message_id"]).name
    assert name in {f.name for f in files}


def test_text_typed_by_an_employer_is_never_executed(sendgrid, seeded, fake):
    result = world.submit_eg(seeded)
    world.run(
        seeded,
        result.reference,
        [
            world.step(
                "labour_attache",
                "return_for_correction",
                comment="{{ 7*7 }} <script>alert(1)</script>",
                reason="incomplete_documents",
            )
        ],
    )
    seeded.notices.deliver()
    mail = next(m for m in fake.accepted if "{{ 7*7 }}" in json_of(m))
    html = next(c["value"] for c in mail["content"] if c["type"] == "text/html")
    text = next(c["value"] for c in mail["content"] if c["type"] == "text/plain")
    assert "{{ 7*7 }}" in text and "49" not in text.split("{{ 7*7 }}")[0][-5:]
    assert "<script>" not in html and "&lt;script&gt;" in html


def json_of(message: dict) -> str:
    import json

    return json.dumps(message, ensure_ascii=False)


def test_sendgrid_without_a_key_is_refused_at_startup(tmp_path):
    cfg = Settings(notify_channel="sendgrid", sendgrid_api_key=None, data_dir=tmp_path)
    with pytest.raises(AdapterError, match="SOPFLOW_SENDGRID_API_KEY"):
        bootstrap.channel(cfg)


@pytest.mark.parametrize("sop_id", [world.EG, world.TN])
def test_every_notice_of_the_shipped_sops_renders_in_three_languages(seeded, sop_id):
    notices = use_channel(seeded, FileChannel(Path("/nonexistent")))
    sop = seeded.sops.catalogue.get(sop_id)
    triggers = sorted({t.trigger for t in sop.spec.transitions if t.notify})
    assert triggers
    for trigger in triggers:
        for locale in ("ar", "fr", "en"):
            for to, rendered in notices.preview(sop, trigger, locale):
                assert rendered.locale == locale, (trigger, to)
                assert rendered.subject and rendered.text.strip() and "<html" in rendered.html
                assert (ARABIC.search(rendered.text) is not None) == (locale == "ar")


def _cairo(iso: str) -> str:
    """A deadline as notices write it: local time in the SOP's zone, the zone named."""
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo("Africa/Cairo"))
    return f"{local:%Y-%m-%d %H:%M} (Africa/Cairo)"


def _text(mail: dict) -> str:
    return next(c["value"] for c in mail["content"] if c["type"] == "text/plain")


def test_a_notice_describes_its_own_step_not_the_request_when_it_is_sent(sendgrid, seeded,
                                                                       fake, clock):  # fmt: skip
    """Notices are delivered after the request has moved on: each still names the stage its
    step led to and the deadline the request had then (not the final stage, no deadline)."""
    reference = world.submit_eg(seeded).reference
    submitted = seeded.queries.show(reference, None)["deadline"]
    clock.advance(days=2)
    world.run(seeded, reference, world.eg_path_to("approve_demand"))  # attest, register
    registered = seeded.queries.show(reference, None)["deadline"]
    clock.advance(days=1)
    world.run(seeded, reference, [world.step("director", "reject", reason="misrepresentation",
                                             comment="No")])  # fmt: skip
    assert seeded.queries.show(reference, None)["state"] == "rejected"
    assert submitted != registered

    seeded.notices.deliver()
    by_id = {m["custom_args"]["sopflow_message_id"]: m for m in fake.accepted}
    rows = {(r["recipient"], r["event_seq"], r["template"]): r for r in outbox(seeded, "sent")}
    # filed (seq 2): the attaché must act at the attestation stage, by its deadline
    attache = _text(by_id[rows[(world.email("labour_attache"), 2, "action_required")]
                          ["message_id"]])  # fmt: skip
    assert f"Deadline: {_cairo(submitted)}" in attache
    # registered (seq 4): the officer must act at the review stage, by the later deadline
    officer = _text(by_id[rows[(world.email("employment_officer"), 4, "action_required")]
                          ["message_id"]])  # fmt: skip
    assert f"Deadline: {_cairo(registered)}" in officer
    sop = seeded.sops.catalogue.get(world.EG)
    for text, stage in ((attache, "attestation_review"), (officer, "demand_under_review")):
        assert f"Current stage: {sop.states[stage].label.en}" in text
        assert sop.states["rejected"].label.en not in text
    # what the outbox records as sent is what was sent
    for row in rows.values():
        mail = by_id[row["message_id"]]
        html = next(c["value"] for c in mail["content"] if c["type"] == "text/html")
        assert row["subject_hash"] == hashlib.sha256(mail["subject"].encode()).hexdigest()
        assert row["body_hash"] == hashlib.sha256(
            (_text(mail) + "\0" + html).encode()).hexdigest()  # fmt: skip


def test_a_notice_written_before_the_outbox_kept_deadlines_rebuilds_its_own(sendgrid, seeded,
                                                                          fake, clock):  # fmt: skip
    """An outbox row from before migration 0004 has no deadline: it is rebuilt from the
    events up to the notice's own."""
    reference = world.submit_eg(seeded).reference
    submitted = seeded.queries.show(reference, None)["deadline"]
    clock.advance(days=2)
    world.run(seeded, reference, world.eg_path_to("register_demand"))  # attest
    with seeded.ctx.store.write() as w:
        w.execute("UPDATE outbox SET deadline = NULL")
    seeded.notices.deliver()
    row = next(r for r in outbox(seeded, "sent") if r["event_seq"] == 2
               and r["recipient"] == world.email("labour_attache"))  # fmt: skip
    mail = next(m for m in fake.accepted
                if m["custom_args"]["sopflow_message_id"] == row["message_id"])  # fmt: skip
    assert f"Deadline: {_cairo(submitted)}" in _text(mail)


def test_a_preview_gives_the_deadline_of_the_steps_own_stage_in_the_sops_zone(seeded):
    notices = use_channel(seeded, FileChannel(Path("/nonexistent")))
    sop = seeded.sops.catalogue.get(world.TN)
    submitted = dict(notices.preview(sop, "submit", "en"))["role:examiner"].text
    # filing check: 5 working days from the sample step, in Tunis time
    assert "Deadline: 2026-12-08 23:59 (Africa/Tunis)" in submitted
    assert "Date: 2026-12-01 10:00 (Africa/Tunis)" in submitted
    assert "Cairo" not in submitted
    # a return for correction: the deadline of the stage the request goes back to
    returned = dict(notices.preview(sop, "return_for_correction", "en"))["requester"].text
    # (17 December is Revolution Day, 14 January no longer a holiday)
    assert "Deadline to correct: 2027-01-14 23:59 (Africa/Tunis)" in returned


def test_a_preview_speaks_to_each_recipient_as_the_real_notice_would(seeded):
    notices = use_channel(seeded, FileChannel(Path("/nonexistent")))
    sop = seeded.sops.catalogue.get(world.TN)
    french = dict(notices.preview(sop, "submit", "fr"))
    arabic = dict(notices.preview(sop, "return_for_correction", "ar"))

    examiner = french["role:examiner"].text
    assert sop.roles["examiner"].title.fr in examiner  # the official, by the role's title
    assert "parce que vous avez déposé" not in examiner  # not the requester's footer
    assert "Please attach" not in arabic["requester"].text  # the sample comment in Arabic
    assert "Nile" not in examiner and "Cairo" not in examiner


LONG_SUBJECTS = [
    "إجراء مطلوب: EG-2026-000001 (الموافقة على نشر الإعلان) — وزارة العمل، جمهورية مصر "
    "العربية، الإدارة العامة للتمثيل العمالي بالخارج",
    "Action requise : TN-2026-000001 (Délivrer l'attestation d'autorisation de recrutement "
    "d'un étranger) — Direction générale de la promotion de l'emploi",
    "Action required: EG-2026-000001 (Approve the publication of the advertisement) — "
    "Ministry of Labour of the Arab Republic of Egypt",
    "Action required: EG-2026-000001 (Approve the publication of the advertisement) for the "
    "Ministry of Labour of the Arab Republic of Egypt, General Administration",
    "Subject-" + "x" * 120 + " end",
    "two  spaces,   three, a tab\there and =?utf-8?q?not_encoded?=",
    " spaces at both ends ",
]


def _read_back(path: Path) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


@pytest.mark.parametrize("subject", LONG_SUBJECTS)
def test_an_eml_subject_reads_back_exactly_as_rendered(tmp_path, subject):
    """Folded long subjects lost the space between two encoded words (Arabic: الموافقة على
    read as الموافقةعلى) or gained a leading one: every reader must get the rendered text."""
    channel = FileChannel(tmp_path / "outbox")
    name = channel.send(
        Message(
            message_id="m-1",
            to="a@example.org",
            subject=subject,
            text="text",
            html="<p>html</p>",
            sender="s@example.org",
        )
    )
    raw = (tmp_path / "outbox" / name).read_bytes()
    assert _read_back(tmp_path / "outbox" / name)["Subject"] == subject
    assert all(len(line) <= 78 for line in raw.split(b"\r\n")), raw
    legacy = re.sub(r"\r?\n(?=[ \t])", "", email.message_from_bytes(raw)["Subject"])  # unfolded
    decoded = email.header.make_header(email.header.decode_header(legacy))
    assert str(decoded).strip() == subject.strip()


def test_the_subject_of_every_eml_hashes_to_its_outbox_row(seeded, tmp_path):
    use_channel(seeded, FileChannel(tmp_path / "outbox"))
    world.submit_eg(seeded)
    seeded.notices.deliver()
    sent = {r["message_id"]: r for r in outbox(seeded, "sent")}
    assert sent
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        parsed = _read_back(path)
        row = sent[parsed["Message-ID"].strip("<>")]
        subject = parsed["Subject"]
        assert hashlib.sha256(subject.encode("utf-8")).hexdigest() == row["subject_hash"], subject


@pytest.mark.parametrize("sop_id", [world.EG, world.TN])
def test_every_notice_subject_of_the_shipped_sops_reads_back_from_its_eml(seeded, sop_id, tmp_path):
    channel = FileChannel(tmp_path / "outbox")
    notices = use_channel(seeded, channel)
    sop = seeded.sops.catalogue.get(sop_id)
    n = 0
    for trigger in sorted({t.trigger for t in sop.spec.transitions if t.notify}):
        for locale in ("ar", "fr", "en"):
            for _to, rendered in notices.preview(sop, trigger, locale):
                n += 1
                name = channel.send(
                    Message(
                        message_id=f"m-{n}",
                        to="a@example.org",
                        subject=rendered.subject,
                        text=rendered.text,
                        html=rendered.html,
                        sender="s@example.org",
                    )
                )
                parsed = _read_back(tmp_path / "outbox" / name)
                assert parsed["Subject"] == rendered.subject, (trigger, locale)


@pytest.mark.parametrize("inside", [False, True], ids=["the-folder", "a-folder-above"])
def test_an_outbox_folder_that_is_a_file_dead_letters_with_the_reason(seeded, tmp_path, inside):
    """Retrying cannot help (as with a 401 from SendGrid): each notice is dead at once,
    saying which path is a file and what to do, and nothing is lost."""
    (tmp_path / "outfile").write_text("", encoding="utf-8")
    folder = tmp_path / "outfile" / "sub" if inside else tmp_path / "outfile"
    use_channel(seeded, FileChannel(folder))
    world.submit_eg(seeded)
    pending = outbox(seeded, "pending")

    report = seeded.notices.deliver()

    assert (report.sent, report.retrying, report.dead) == (0, 0, len(pending))
    for row in outbox(seeded, "dead"):
        assert row["attempts"] == 1
        assert f"{tmp_path / 'outfile'} is a file, not a folder" in row["last_error"]
        assert "SOPFLOW_OUTBOX_DIR" in row["last_error"]
        assert "notify retry --all-dead" in row["last_error"]
    with pytest.raises(AdapterError, match="is a file, not a folder") as refused:
        FileChannel(folder).check()
    assert refused.value.code == "configuration-error"
    FileChannel(tmp_path / "outbox" / "new").check()  # a folder still to create is fine


def _mails_to(folder: Path) -> dict[str, list[str]]:
    """The text and HTML of every .eml in ``folder``, by recipient."""
    mails: dict[str, list[str]] = {}
    for path in folder.glob("*.eml"):
        parsed = _read_back(path)
        parts = [parsed.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
        mails.setdefault(parsed["To"], []).append("\n".join(p.get_content() for p in parts if p))
    return mails


def test_a_requesters_notice_names_the_office_that_acted_not_the_official(seeded, tmp_path):
    """An official's step told to the requester (and to the contact address) says which
    office took it, in the reader's language; the officials told of it read who did."""
    use_channel(seeded, FileChannel(tmp_path / "outbox"))
    karim = "karim.adel@mom.example"
    seeded.directory.add_user(karim, "Karim Adel", world.EG_AUTHORITY, ["labour_attache"])
    ref = world.submit_eg(seeded).reference
    seeded.commands.act(ref, "attest_demand", karim,
                        world.Command(documents=world.docs("attestation")))  # fmt: skip
    seeded.notices.deliver()

    mails = _mails_to(tmp_path / "outbox")
    outside = mails[world.email("agent")] + mails[world.eg_data()["contact_email"]]
    assert not any("Karim" in m or "@mom.example" in m for m in outside)
    office = "الملحق العمالي (مكتب التمثيل العمالي)، وزارة العمل"  # the agent reads Arabic
    assert any(office in m for m in mails[world.email("agent")])
    assert any("Karim Adel" in m for m in mails[world.email("registry_clerk")])
    # the history, as the CLI gives it: the office with --as the agent, the person without
    assert seeded.audit.history(ref, world.email("agent"))["events"][-1]["actor_masked"]
    assert seeded.audit.history(ref, None)["events"][-1]["actor"] == karim


def test_a_preview_shows_the_requester_the_office_and_the_officials_the_person(seeded):
    notices = use_channel(seeded, FileChannel(Path("/nonexistent")))
    sop = seeded.sops.catalogue.get(world.EG)

    told = dict(notices.preview(sop, "attest_demand", "en"))

    assert "Mona Said" not in told["requester"].text
    assert "Approved by: Labour attaché (labour representation office), Ministry of Labour" \
        in told["requester"].text  # fmt: skip
    assert "By: Mona Said (Labour attaché" in told["role:registry_clerk"].text
