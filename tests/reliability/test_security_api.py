"""Hostile callers of the API and the services: SQL injection in every filter and path
parameter, path traversal and forged names in documents, oversized and mislabelled
documents, guessing another organisation's references and documents, an auditor trying to
change anything, tokens and passwords at rest, template injection through request data
and SOP text, guard expressions reaching for Python."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from notifications.render import TemplateRenderer
from sopflow.errors import SopDefinitionError
from sopflow.services import Command, Notices, Services
from states.machine import check_sop, compile_sop
from tests.e2e.test_api import bearer
from tests.integration import world as w
from tests.integration.world import email

INJECTIONS = [
    "' OR '1'='1",
    "x' OR 1=1 --",
    "'; DROP TABLE events; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "%' OR reference LIKE '%",
    "EG-2026-000001' UNION SELECT token_hash FROM api_tokens --",
    "\x00",
    "' AND sleep(5) --",
]


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def footprint_and_tables(services: Services) -> dict[str, Any]:
    """What the database holds (a hostile request must not change it), tables included."""
    with services.ctx.store.engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
    return {**w.footprint(services), "tables": tables}


@pytest.fixture
def two_agencies(app_services: Services) -> dict[str, str]:
    """A request of Nile (the agent's agency) and one of Delta (the other agent's)."""
    return {
        "nile": w.submit_eg(app_services).reference,
        "delta": w.submit_eg(app_services, who="other_agent").reference,
    }


@pytest.mark.parametrize("param", ["state", "sop", "organisation", "q"])
def test_sql_injection_in_every_filter_finds_nothing_foreign_and_changes_nothing(
    client: TestClient,
    tokens: dict[str, str],
    app_services: Services,
    two_agencies: dict[str, str],
    param: str,
) -> None:
    before = footprint_and_tables(app_services)
    for payload in INJECTIONS:
        for who in ("agent", "other_agent"):
            answer = client.get(
                "/api/v1/requests", params={param: payload}, headers=bearer(tokens, who)
            )
            assert answer.status_code in (200, 422), (payload, answer.text)
            if answer.status_code == 200:
                own = two_agencies["nile" if who == "agent" else "delta"]
                assert {r["reference"] for r in answer.json()} <= {own}, (payload, who)
    assert footprint_and_tables(app_services) == before


def test_like_wildcards_in_the_text_filter_match_literally(
    client: TestClient, tokens: dict[str, str], two_agencies: dict[str, str]
) -> None:
    director = bearer(tokens, "director")
    assert len(client.get("/api/v1/requests", headers=director).json()) == 2
    for wildcard in ("%", "_", "%%", "EG-____-%"):
        found = client.get("/api/v1/requests", params={"q": wildcard}, headers=director)
        assert found.json() == [], wildcard
    # SQLite's LIKE ends a pattern at a NUL (matching everything): refused on every database
    nul = client.get("/api/v1/requests", params={"q": "\x00zzz"}, headers=director)
    assert nul.status_code == 422 and nul.json()["errors"][0]["code"] == "nul-character"


def test_sql_injection_in_path_and_typed_parameters_is_refused_cleanly(
    client: TestClient,
    tokens: dict[str, str],
    app_services: Services,
    two_agencies: dict[str, str],
) -> None:
    before = footprint_and_tables(app_services)
    ref = two_agencies["nile"]
    headers = bearer(tokens, "agent")
    for payload in INJECTIONS:
        quoted = payload.replace("%", "%25").replace("\\", "%5C").replace("\x00", "%00")
        for url in (
            f"/api/v1/requests/{quoted}",
            f"/api/v1/requests/{quoted}/history",
            f"/api/v1/requests/{ref}/documents/{quoted}",
            f"/api/v1/requests/{ref}/replay?at_seq={quoted}",
            f"/api/v1/requests/{ref}/replay?as_of={quoted}",
        ):
            answer = client.get(url, headers=headers)
            assert answer.status_code in (404, 422), (url, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
        acted = client.post(f"/api/v1/requests/{ref}/actions/{quoted}", headers=headers, json={})
        assert acted.status_code in (404, 422), (payload, acted.text)
    assert footprint_and_tables(app_services) == before


# -- documents -------------------------------------------------------------------------
def test_a_traversing_or_forged_document_name_is_reduced_to_a_plain_file_name(
    client: TestClient, tokens: dict[str, str], app_services: Services
) -> None:
    names = [
        "../../../../etc/passwd.pdf",
        "..\\..\\windows\\win.ini.pdf",
        'evil"\r\nSet-Cookie: a=b.pdf',
        "/absolute/path.pdf",
        "....pdf",
    ]
    documents = [
        {"kind": k, "file_name": n, "content_base64": b64(w.pdf(k))}
        for k, n in zip(("demand_letter", "power_of_attorney"), names, strict=False)
    ]
    filed = client.post(
        "/api/v1/requests",
        headers=bearer(tokens, "agent"),
        json={"sop": w.EG, "data": w.eg_data(), "documents": documents},
    )
    assert filed.status_code == 201, filed.text
    stored = filed.json()["documents"]
    assert {d["file_name"] for d in stored} == {"passwd.pdf", "win.ini.pdf"}
    for doc in stored:
        url = f"/api/v1/requests/{filed.json()['reference']}/documents/{doc['sha256']}"
        got = client.get(url, headers=bearer(tokens, "agent"))
        disposition = got.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition and ".." not in disposition
    for name in names[2:]:
        app_services.commands.attach(
            filed.json()["reference"],
            email("agent"),
            Command(documents=[w.doc("demand_letter", name=name)]),
        )
    files = [p for p in Path(app_services.ctx.blobs.root).rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(app_services.ctx.blobs.root.resolve()) for p in files)
    assert not Path("/etc/passwd.pdf").exists()


def test_a_document_path_that_is_not_a_hash_never_reaches_the_disk(
    client: TestClient, tokens: dict[str, str], two_agencies: dict[str, str]
) -> None:
    ref = two_agencies["nile"]
    for bad in (
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "0" * 64,
        "g" * 64,
        "A" * 64,
        "...",
        "%2F",
        "%00",
    ):
        answer = client.get(
            f"/api/v1/requests/{ref}/documents/{bad}", headers=bearer(tokens, "agent")
        )
        assert answer.status_code in (404, 405), (bad, answer.text)  # 405: ".../documents/"
        assert "root:" not in answer.text


def test_oversized_and_mislabelled_documents_are_refused_and_not_stored(
    client: TestClient, tokens: dict[str, str], app_services: Services
) -> None:
    app_services.ctx.max_document_bytes = 10_000
    before = footprint_and_tables(app_services)
    blobs = app_services.ctx.blobs.root

    def file(name: str, content: bytes) -> Any:
        return client.post(
            "/api/v1/requests",
            headers=bearer(tokens, "agent"),
            json={
                "sop": w.EG,
                "data": w.eg_data(),
                "documents": [
                    {"kind": "demand_letter", "file_name": name, "content_base64": b64(content)},
                    {
                        "kind": "power_of_attorney",
                        "file_name": "p.pdf",
                        "content_base64": b64(w.pdf()),
                    },
                ],
            },
        )

    huge = file("big.pdf", b"%PDF-1.4\n" + b"0" * 50_000)
    png_as_pdf = file("letter.pdf", w.png())
    exe = file("letter.pdf", b"MZ\x90\x00" + b"\x00" * 200)
    assert huge.status_code == 413 and huge.json()["code"] == "invalid-data"
    for refused in (png_as_pdf, exe):
        assert refused.status_code == 422, refused.text
        assert {e["code"] for e in refused.json()["errors"]} & {
            "document-mislabelled",
            "document-type",
        }
    assert footprint_and_tables(app_services) == before
    stored = {p.name for p in blobs.rglob("*") if p.is_file()} if blobs.exists() else set()
    assert hashlib.sha256(w.png()).hexdigest()[2:] not in stored


# -- other organisations, auditors -------------------------------------------------------
def test_another_organisation_cannot_see_or_guess_requests_or_documents(
    client: TestClient,
    tokens: dict[str, str],
    app_services: Services,
    two_agencies: dict[str, str],
) -> None:
    nile = app_services.queries.show(two_agencies["nile"], email("agent"))
    sha = nile["documents"][0]["sha256"]
    stranger = bearer(tokens, "other_agent")
    never_issued = client.get("/api/v1/requests/EG-2026-999999", headers=stranger).json()
    for number in range(1, 30):  # every reference a guesser would try
        ref = f"EG-2026-{number:06d}"
        if ref == two_agencies["delta"]:
            continue
        for path in ("", "/history", "/replay", f"/documents/{sha}"):
            answer = client.get(f"/api/v1/requests/{ref}{path}", headers=stranger)
            assert answer.status_code == 404, (ref, path, answer.text)
            if not path:  # exactly what a reference that was never issued gives
                assert answer.json()["detail"] == never_issued["detail"].replace(
                    "EG-2026-999999", ref
                )
    own = two_agencies["delta"]
    borrowed = client.get(f"/api/v1/requests/{own}/documents/{sha}", headers=stranger)
    assert borrowed.status_code == 404  # a foreign document through one's own request
    listed = client.get("/api/v1/requests", headers=stranger).json()
    assert [r["reference"] for r in listed] == [own]
    assert client.get("/api/v1/inbox", headers=stranger).json()[0]["reference"] == own


def test_an_auditor_cannot_change_anything_through_the_api(
    client: TestClient,
    tokens: dict[str, str],
    app_services: Services,
    two_agencies: dict[str, str],
) -> None:
    ref = two_agencies["nile"]
    auditor = bearer(tokens, "eg_auditor")
    before = footprint_and_tables(app_services)
    doc = [{"kind": "attestation", "file_name": "a.pdf", "content_base64": b64(w.pdf())}]
    attempts = [
        client.post("/api/v1/requests", headers=auditor, json={"sop": w.EG, "data": w.eg_data()}),
        client.post(f"/api/v1/requests/{ref}/documents", headers=auditor, json=doc),
        *[
            client.post(
                f"/api/v1/requests/{ref}/actions/{t}",
                headers=auditor,
                json={"documents": doc, "comment": "x", "reason": "incomplete_documents"},
            )
            for t in ("attest_demand", "return_for_correction", "reject", "withdraw")
        ],
    ]
    for answer in attempts:
        assert answer.status_code in (403, 404), answer.text
    assert footprint_and_tables(app_services) == before
    assert client.get(f"/api/v1/requests/{ref}/history", headers=auditor).status_code == 200


# -- secrets at rest -----------------------------------------------------------------------
def test_tokens_and_passwords_are_stored_hashed(
    app_services: Services, tokens: dict[str, str]
) -> None:
    app_services.directory.add_user(
        "pw@nile.example",
        "Pw",
        w.AGENCY,
        ["employer_agent"],
        password="correct horse battery staple",
    )
    with app_services.ctx.store.engine.connect() as conn:
        stored = [tuple(map(str, row)) for row in conn.execute(sa.text("SELECT * FROM api_tokens"))]
        users = [dict(row) for row in conn.execute(sa.text("SELECT * FROM users")).mappings()]
    dump = repr(stored) + repr(users)
    for token in tokens.values():
        assert token not in dump and token[len("sfp_") :] not in dump
        assert hashlib.sha256(token.encode()).hexdigest() in dump
    assert "correct horse" not in dump
    hashed = [v for u in users for v in u.values() if isinstance(v, str) and "$argon2" in v]
    assert hashed and all(v.startswith("$argon2id$") for v in hashed)


# -- template injection, guard expressions -----------------------------------------------
TEMPLATE_PAYLOADS = (
    "{{ 7*7 }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "${7*7}",
    "{{ config.items() }}",
)


def test_sop_text_is_data_in_notices_never_a_template(app_services: Services) -> None:
    text = Path("sop_definitions", f"{w.EG}.v1.yaml").read_text(encoding="utf-8")
    hostile = "{{ 7*7 }} <script>alert(1)</script> {% raw %}"
    title = "(Ministry of Labour, formerly MoM)"
    assert title in text
    text = text.replace(title, hostile)
    sop = compile_sop(text, f"{w.EG}.v1.yaml")
    notices = Notices(
        app_services.ctx,
        TemplateRenderer(),
        None,
        "no-reply@sopflow.test",  # type: ignore[arg-type]
        "https://sopflow.test",
    )
    rendered = notices.preview(sop, "return_for_correction", "en")
    assert rendered
    for _, message in rendered:
        assert "49" not in message.subject + message.text
        assert "{{ 7*7 }}" in message.subject + message.text + message.html
        assert "<script>" not in message.html and "&lt;script&gt;" in message.html


@pytest.mark.parametrize("payload", TEMPLATE_PAYLOADS)
def test_request_data_is_data_in_notices_never_a_template(
    app_services: Services, payload: str
) -> None:
    ref = w.submit_eg(app_services, employer_name=f"Co {payload}").reference
    app_services.commands.act(
        ref,
        "return_for_correction",
        email("labour_attache"),
        Command(comment=f"see {payload}", reason="incomplete_documents"),
    )
    assert app_services.notices.deliver().sent > 0
    mails = "".join(
        p.read_text(errors="replace")
        for p in Path(app_services.ctx.blobs.root.parent.parent / "outbox").glob("*.eml")
    )
    assert mails and "<class" not in mails and "config" not in mails.replace(payload, "")


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('touch /tmp/sopflow-pwned') == 0",
        "().__class__.__base__.__subclasses__() == []",
        "open('/etc/passwd') == 1",
        "monthly_wage.__class__ == 1",
        "eval('1') == 1",
        "(lambda: 1)() == 1",
        "globals() == 1",
    ],
)
def test_a_guard_expression_cannot_reach_python(expression: str) -> None:
    text = Path("sop_definitions", f"{w.EG}.v1.yaml").read_text(encoding="utf-8")
    assert "- expr: monthly_wage.amount > 0\n" in text
    hostile = text.replace("- expr: monthly_wage.amount > 0\n", f'- expr: "{expression}"\n')
    line = text[: text.index("- expr: monthly_wage.amount > 0")].count("\n") + 1
    parsed, issues = check_sop(hostile, "hostile.v1.yaml")
    assert parsed.spec is None or any(i.severity == "error" for i in issues)
    assert any(i.line == line for i in issues), [i.format() for i in issues]
    with pytest.raises(SopDefinitionError):
        compile_sop(hostile, "hostile.v1.yaml")
    assert not Path("/tmp/sopflow-pwned").exists()
