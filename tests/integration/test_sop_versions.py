"""SOP versions: a request stays on the version it started with; publishing a new version
moves new requests only; a version number always means the same text."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopflow import bootstrap
from sopflow.errors import InvalidData, SopDefinitionError
from sopflow.services import Command, Services
from sopflow.settings import Settings
from sopflow.sop_files import shipped_sop_dir
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import email

SHIPPED_EG = shipped_sop_dir() / f"{w.EG}.v1.yaml"
V1_CONTRACT_BOUND = "    max: 60  # [I] inferred: bound to catch typing errors\n"


def eg_variant(folder: Path, version: int, *, max_months: int = 36, note: str = "") -> Path:
    """A copy of the shipped Egyptian SOP as ``version``, with contracts capped at
    ``max_months`` months (60 in v1)."""
    text = SHIPPED_EG.read_text(encoding="utf-8")
    assert text.count("\nversion: 1\n") == 1 and text.count(V1_CONTRACT_BOUND) == 1
    text = text.replace("\nversion: 1\n", f"\nversion: {version}\n")
    text = text.replace(V1_CONTRACT_BOUND, f"    max: {max_months}\n")
    path = folder / f"{w.EG}.v{version}.yaml"
    path.write_text(text + note, encoding="utf-8")
    return path


def _versions_of(services: Services, ref: str) -> set[int]:
    history = services.audit.history(ref, email("eg_auditor"))
    return {history["sop_version"], *(e["sop_version"] for e in history["events"])}


def test_a_new_version_applies_to_new_requests_and_in_flight_ones_stay_on_theirs(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    in_flight = w.submit_eg(seeded).reference

    sop, new = seeded.sops.publish(eg_variant(tmp_path, 2), clock())
    assert (sop.spec.version, new) == (2, True)

    fresh = w.submit_eg(seeded).reference
    assert seeded.queries.show(fresh, email("agent"))["sop_version"] == 2
    assert seeded.queries.show(in_flight, email("agent"))["sop_version"] == 1

    # v2 caps contracts at 36 months: a new 48-month demand is refused ...
    with pytest.raises(InvalidData) as caught:
        w.submit_eg(seeded, contract_months=48)
    assert [(e.field, e.code) for e in caught.value.errors] == [("contract_months", "out-of-range")]
    # ... while the request filed under v1 may still be corrected to 48 months
    seeded.commands.act(
        in_flight,
        "return_for_correction",
        email("registry_clerk"),
        Command(comment="Wrong duration", reason="data_inconsistent"),
    )
    corrected = seeded.commands.act(
        in_flight, "resubmit", email("agent"), Command(data={"contract_months": 48})
    )
    assert corrected.state == "attestation_review"
    # and it goes all the way on v1
    w.run(seeded, in_flight, w.EG_PATH)
    assert seeded.queries.show(in_flight, email("agent"))["state"] == "placed"

    assert _versions_of(seeded, in_flight) == {1}
    assert _versions_of(seeded, fresh) == {2}
    assert seeded.audit.replay(in_flight, email("eg_auditor"))["consistent"]
    assert seeded.audit.verify().intact


def test_a_published_version_is_known_to_every_process_after(
    seeded: Services, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    in_flight = w.submit_eg(seeded).reference
    seeded.sops.publish(eg_variant(tmp_path, 2), clock())
    (tmp_path / f"{w.EG}.v2.yaml").unlink()  # the file is gone; the database keeps the text

    other = bootstrap.build(settings)
    other.ctx.clock = clock
    try:
        fresh = w.submit_eg(other).reference
        assert other.queries.show(fresh, email("agent"))["sop_version"] == 2
        assert other.queries.show(in_flight, email("agent"))["sop_version"] == 1
        with pytest.raises(InvalidData):  # v2's 36-month cap
            w.submit_eg(other, contract_months=48)
    finally:
        other.ctx.store.engine.dispose()


def test_publishing_the_same_file_again_changes_nothing(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    path = eg_variant(tmp_path, 2)
    seeded.sops.publish(path, clock())
    before = w.footprint(seeded)

    sop, new = seeded.sops.publish(path, clock())

    assert (sop.spec.version, new) == (2, False)
    assert w.footprint(seeded) == before


def test_a_changed_file_under_a_published_version_number_is_refused(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    seeded.sops.publish(eg_variant(tmp_path, 2), clock())
    ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)

    changed = eg_variant(tmp_path, 2, max_months=48)
    with pytest.raises(SopDefinitionError) as caught:
        seeded.sops.publish(changed, clock())

    assert [i.code for i in caught.value.issues] == ["version-conflict"]
    assert w.footprint(seeded) == before
    # requests keep using the text they were pinned to
    with pytest.raises(InvalidData):
        w.submit_eg(seeded, contract_months=48)
    assert seeded.queries.show(ref, email("agent"))["sop_version"] == 2


def test_a_changed_copy_of_a_version_in_use_is_refused(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    w.submit_eg(seeded)  # pins v1
    before = w.footprint(seeded)

    with pytest.raises(SopDefinitionError) as caught:
        seeded.sops.publish(eg_variant(tmp_path, 1), clock())

    assert [i.code for i in caught.value.issues] == ["version-conflict"]
    assert w.footprint(seeded) == before


def test_a_changed_copy_of_a_shipped_version_is_refused_before_any_request_uses_it(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    # v1 ships with the product: it exists whether or not a request was filed under it yet
    before = w.footprint(seeded)

    with pytest.raises(SopDefinitionError) as caught:
        seeded.sops.publish(eg_variant(tmp_path, 1), clock())

    assert [i.code for i in caught.value.issues] == ["version-conflict"]
    assert w.footprint(seeded) == before
    assert w.submit_eg(seeded, contract_months=48).state == "attestation_review"


LOCALISED_CITATIONS = {
    "    citation: Labour Law No. 12 of 2003, arts. 17-25 (employment of Egyptians abroad)\n":
        '    citation: {en: "Labour Law No. 12 of 2003, arts. 17-25", '
        'ar: "قانون العمل رقم 12 لسنة 2003، المواد 17-25", '
        'fr: "Code du travail, loi n° 12 de 2003, art. 17 à 25"}\n',
    "    citation: Ministry of Labour, labour representation offices abroad (labour attachés)\n":
        '    citation: {en: "Ministry of Labour, labour representation offices abroad", '
        'ar: "وزارة العمل، مكاتب التمثيل العمالي بالخارج", '
        'fr: "Ministère du Travail, bureaux de représentation à l\'étranger"}\n',
}  # fmt: skip


def test_a_version_may_cite_its_law_in_each_language(
    seeded: Services, clock: Clock, tmp_path: Path
) -> None:
    path = eg_variant(tmp_path, 2)
    text = path.read_text(encoding="utf-8")
    for plain, localised in LOCALISED_CITATIONS.items():
        assert text.count(plain) == 1
        text = text.replace(plain, localised)
    path.write_text(text, encoding="utf-8")
    seeded.sops.publish(path, clock())
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.EG_PATH[:2])

    def cited(lang: str) -> list[str]:
        events = seeded.audit.history(ref, email("eg_auditor"), lang)["events"]
        return [e["legal_citation"] for e in events if e["legal_citation"]]

    assert "قانون العمل رقم 12 لسنة 2003، المواد 17-25" in cited("ar")
    assert "وزارة العمل، مكاتب التمثيل العمالي بالخارج" in cited("ar")
    assert "Code du travail, loi n° 12 de 2003, art. 17 à 25" in cited("fr")
    assert "Labour Law No. 12 of 2003, arts. 17-25" in cited("en")
