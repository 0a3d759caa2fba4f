"""compile_sop / check_sop: one compiled machine per SOP text, or every issue at once."""

from __future__ import annotations

import pytest

from notifications.catalogue import TEMPLATE_IDS
from sopflow.errors import SopDefinitionError
from states import check_sop, compile_sop
from tests.factories import BENCH, bench_variant, read


def unknown_template_variant(tag: str) -> str:
    def change(d):
        d["transitions"][0]["notify"] = [{"to": "requester", "template": "no_such_template"}]
        d["legal_basis"][0]["summary"] = f"variant {tag}"  # a text of its own: no cache hit

    return bench_variant(change)


def test_compiled_bench_sop_exposes_its_parts():
    sop = compile_sop(read(BENCH), str(BENCH), templates=TEMPLATE_IDS)

    assert sop.key == ("peer-recruitment-approval", 1)
    assert sop.initial == "draft"
    assert sop.is_final("approved")
    assert not sop.is_final("submitted")
    assert set(sop.by_state["intake_review"]) == {"approve", "return_for_correction"}
    assert sop.by_state["approved"] == {}
    assert sop.requester_roles == {"employer_agent"}
    assert sop.content_hash.startswith("sha256:")


def test_same_text_compiles_once():
    text = read(BENCH)

    assert compile_sop(text, "a.yaml") is compile_sop(text, "a.yaml")


def test_compile_raises_with_every_error_and_the_warnings():
    def change(d):
        d["transitions"][0]["to"] = "nowhere"
        d["transitions"][1]["roles"] = ["nobody"]
        del d["title"]["fr"]

    with pytest.raises(SopDefinitionError) as caught:
        compile_sop(bench_variant(change), "bad.yaml")

    error = caught.value
    assert {"unknown-state", "unknown-role", "missing-translation"} <= {
        i.code for i in error.issues
    }
    assert error.code == "sop-invalid"
    assert error.message.startswith("bad.yaml:")
    assert "more)" in error.message
    assert error.to_dict()["issues"][0]["file"] == "bad.yaml"


def test_warnings_do_not_prevent_compiling_and_are_kept():
    def change(d):
        del d["title"]["fr"]

    sop = compile_sop(bench_variant(change), "warned.yaml")

    assert [w.code for w in sop.warnings] == ["missing-translation"]


def test_check_sop_returns_issues_without_raising():
    parsed, issues = check_sop(unknown_template_variant("check"), "t.yaml", templates=TEMPLATE_IDS)

    assert parsed.spec is not None
    assert [i.code for i in issues] == ["unknown-template"]


def test_unknown_template_is_an_error_when_templates_are_known():
    with pytest.raises(SopDefinitionError) as caught:
        compile_sop(unknown_template_variant("direct"), "t.yaml", templates=TEMPLATE_IDS)

    assert [i.code for i in caught.value.issues] == ["unknown-template"]


def test_a_cached_compile_without_templates_does_not_hide_an_unknown_template():
    """BUG: compile_sop caches by content hash only; once a text has been compiled with
    templates=None (no template check), compiling it again with the real template ids
    returns the cached result instead of raising for the unknown template."""
    text = unknown_template_variant("cache")
    compile_sop(text, "t.yaml")  # no template catalogue: accepted

    with pytest.raises(SopDefinitionError):
        compile_sop(text, "t.yaml", templates=TEMPLATE_IDS)
