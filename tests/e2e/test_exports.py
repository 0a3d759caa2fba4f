"""The audit log export from the web and the API: a zip of the file, the directory log's
file and their manifest that ``check_export`` verifies offline; events of SOPs the auditor
does not audit are redacted to their hashes, and so are the directory log's users' entries,
and the files still verify; only auditors may export."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from sopflow.services import Services
from sopflow.services.export_check import check_export
from tests.e2e.test_pages import sign_in, site  # noqa: F401  (fixture)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)


def unzip(content: bytes, folder: Path) -> tuple[Path, dict]:
    """The events' file and the manifest; the zip holds exactly what the manifest names."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(folder)
        names = archive.namelist()
    manifest_name = next(n for n in names if n.endswith(".manifest.json"))
    manifest = json.loads((folder / manifest_name).read_text())
    assert sorted(names) == sorted([manifest["file"], manifest["directory_log"]["file"],
                                    manifest_name])  # fmt: skip
    return folder / manifest["file"], manifest


def test_an_auditor_exports_their_sops_in_full_and_others_redacted_and_it_verifies(
    site: TestClient, tmp_path: Path
) -> None:
    sign_in(site, "auditor@mom.demo")
    response = site.get("/audit/export", params={"format": "jsonl"})
    data, manifest = unzip(response.content, tmp_path)
    events = [json.loads(line) for line in data.read_text().splitlines()]
    shown = [e for e in events if not e.get("redacted")]
    hidden = [e for e in events if e.get("redacted")]

    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert manifest["scope"] == ["eg-mom-international-placement"]
    assert shown and all(e["reference"].startswith("EG-") for e in shown)
    assert hidden and manifest["redacted_events"] == len(hidden)
    assert all(e["actor_id"] is None and e["payload"] is None for e in hidden)
    assert not any("TN-" in json.dumps(e) or "carthage" in json.dumps(e) for e in hidden)
    directory = data.with_name(manifest["directory_log"]["file"]).read_text().splitlines()
    entries = [json.loads(line) for line in directory]
    people = [e for e in entries if e["action"] in ("user-added", "user-recorded")]
    assert people and all(e.get("redacted") for e in people)
    assert not any("@" in line for line in directory)  # no one's address, name or roles
    # an agency's licence, as the rules read it, is given in full
    assert any(e["action"] == "organisation-added" and e["change"]["licence_number"]
               for e in entries)  # fmt: skip
    report = check_export(data)
    assert report.intact, report.breaks
    assert report.directory_entries == len(entries) == manifest["directory_log"]["entries"]


def test_a_redacted_event_cannot_be_altered_unnoticed(site: TestClient, tmp_path: Path) -> None:
    sign_in(site, "auditor@mom.demo")
    data, _ = unzip(site.get("/audit/export", params={"format": "jsonl"}).content, tmp_path)
    lines = data.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"redacted": true' in line)
    event = json.loads(lines[index])
    event["hash"] = "0" * 64
    lines[index] = json.dumps(event, sort_keys=True)
    data.write_text("\n".join(lines) + "\n")

    report = check_export(data)

    assert not report.intact
    assert {b.code for b in report.breaks} >= {"export-altered", "broken-link"}


def test_the_export_page_offers_a_form_and_refuses_non_auditors(site: TestClient) -> None:
    sign_in(site, "officer@mom.demo")
    refused = site.get("/audit/export")
    officers_menu = site.get("/requests").text
    site.cookies.clear()
    sign_in(site, "auditor@dgpemoe.demo")
    form = site.get("/audit/export?lang=en")
    bad = site.get("/audit/export", params={"format": "csv", "start": "2026-12-01",
                                            "end": "2026-11-01"})  # fmt: skip
    not_a_day = site.get("/audit/export", params={"format": "csv", "start": "20261201"})

    assert refused.status_code == 403 and 'href="/audit/export"' not in officers_menu
    assert form.status_code == 200 and re.search(r'name="format"', form.text)
    assert 'href="/audit/export"' in form.text
    assert "Foreign worker" in form.text or "foreign worker" in form.text  # the SOP's title
    assert bad.status_code == 422 and "is before" in bad.text
    assert 'value="2026-12-01"' in bad.text and '<option value="csv" selected>' in bad.text
    assert not_a_day.status_code == 422 and "YYYY-MM-DD" in not_a_day.text


def test_the_api_exports_csv_for_an_auditor_token_and_refuses_others(
    site: TestClient, services: Services, tmp_path: Path
) -> None:
    auditor = services.tokens.create("auditor@dgpemoe.demo").token
    employer = services.tokens.create("rh@carthage.demo").token

    response = site.get("/api/v1/audit/export", params={"format": "csv"},
                        headers={"Authorization": f"Bearer {auditor}"})  # fmt: skip
    refused = site.get("/api/v1/audit/export", headers={"Authorization": f"Bearer {employer}"})
    data, manifest = unzip(response.content, tmp_path)

    assert response.status_code == 200 and manifest["format"] == "csv"
    assert data.read_text().splitlines()[0].startswith("chain_seq,id,reference")
    assert check_export(data).intact
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
