"""`sopflow sop ...` through the real entry point (sopflow.cli.main), run in-process.

Golden files: the full `sopflow sop validate` output for two broken SOPs must equal
tests/fixtures/*.expected.txt exactly. Paths are relative to the repository root, so the
output is stable wherever the checkout lives. To regenerate after a deliberate change of
wording, run with SOPFLOW_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sopflow import bootstrap, cli
from sopflow.spec.models import SopSpec
from sopflow.spec.schema import sop_json_schema
from states.diagram import diagram
from tests.factories import BENCH, EG, FIXTURES, ROOT, SHIPPED, TN, compiled, edges, read


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def isolated_settings(tmp_path_factory):
    """The catalogue commands open the embedded store: give them a database and a data
    folder of their own (made once per module), never the checkout's ./sopflow.db."""
    home = tmp_path_factory.mktemp("sopflow-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPFLOW_DATABASE_URL", f"sqlite:///{home / 'cli.db'}")
        patch.setenv("SOPFLOW_DATA_DIR", str(home / "data"))
        patch.delenv("SOPFLOW_SOP_DIR", raising=False)
        patch.delenv("SOPFLOW_DOCUMENTS_DIR", raising=False)
        bootstrap.settings.cache_clear()
        patch.setattr(bootstrap, "_services", None)
        yield
    bootstrap.settings.cache_clear()


@pytest.fixture
def sopflow(isolated_settings, monkeypatch, capsys):
    """Run `sopflow ARGS...` from the repository root; return exit code, stdout, stderr."""
    monkeypatch.chdir(ROOT)

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["sopflow", *args])
        with pytest.raises(SystemExit) as exited:
            cli.main()
        captured = capsys.readouterr()
        code = exited.value.code
        return Run(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


# ---------------------------------------------------------------- validate


@pytest.mark.parametrize("name", ["malformed", "semantic-errors"])
def test_validate_output_matches_the_golden_file(sopflow, name):
    result = sopflow("sop", "validate", f"tests/fixtures/{name}.v1.yaml")

    golden = FIXTURES / f"{name}.expected.txt"
    if os.environ.get("SOPFLOW_UPDATE_GOLDEN"):
        golden.write_text(result.err, encoding="utf-8")
    assert result.err == golden.read_text(encoding="utf-8")
    assert result.out == ""
    assert result.code == 1


def test_golden_files_cover_at_least_ten_distinct_problems():
    for name in ("malformed", "semantic-errors"):
        lines = (FIXTURES / f"{name}.expected.txt").read_text(encoding="utf-8").splitlines()
        codes = {line.split("[")[1].split("]")[0] for line in lines[:-1]}
        assert len(codes) >= 10, (name, codes)
        assert lines[-1].startswith("1 file(s): ")


def test_clean_sops_validate_with_exit_zero(sopflow):
    result = sopflow("sop", "validate", str(BENCH), str(EG), str(TN))

    assert result.err == "3 file(s): 0 error(s), 0 warning(s)\n"
    assert result.code == 0


def test_validate_reports_a_missing_file(sopflow):
    result = sopflow("sop", "validate", "sop_definitions/nope.v1.yaml")

    assert result.err.splitlines() == [
        "sop_definitions/nope.v1.yaml:1:1: error[unreadable] cannot read the file: "
        "No such file or directory",
        "1 file(s): 1 error(s), 0 warning(s)",
    ]
    assert result.code == 1


def test_an_oversized_file_is_refused_unread(sopflow, tmp_path, monkeypatch):
    """BUG: the whole file was read before its size was checked (300 MB, /dev/zero)."""
    from sopflow import sop_files

    big = tmp_path / "big.yaml"
    with big.open("wb") as stream:
        stream.truncate(50_000_000)  # sparse: costs no disk
    read_sizes: list[int] = []
    real_open = Path.open

    def counting_open(self, mode="r", *args, **kwargs):
        stream = real_open(self, mode, *args, **kwargs)
        if self == big:
            real_read = stream.read
            stream.read = lambda n=-1: read_sizes.append(n) or real_read(n)
        return stream

    monkeypatch.setattr(Path, "open", counting_open)

    result = sopflow("sop", "validate", str(big))

    assert "error[yaml-too-large] file larger than 256000 bytes" in result.err
    assert read_sizes == [sop_files.MAX_BYTES + 1]
    assert result.code == 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_refused_not_read_forever(sopflow):
    result = sopflow("sop", "validate", "/dev/zero")

    assert "/dev/zero:1:1: error[yaml-too-large]" in result.err
    assert result.code == 1


def test_a_null_document_fails_validation(sopflow, tmp_path):
    """BUG: a file holding only '---' passes `sop validate` with 0 errors."""
    empty = tmp_path / "empty.v1.yaml"
    empty.write_text("---\n", encoding="utf-8")

    result = sopflow("sop", "validate", str(empty))

    assert result.code == 1


def test_two_files_of_one_version_with_other_texts_conflict(sopflow, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = tmp_path / "a" / BENCH.name
    second = tmp_path / "b" / BENCH.name
    first.write_text(read(BENCH), encoding="utf-8")
    second.write_text(read(BENCH) + "# changed\n", encoding="utf-8")

    same = sopflow("sop", "validate", str(first), str(first))
    other = sopflow("sop", "validate", str(first), str(second))

    assert same.code == 0
    assert other.code == 1
    assert "error[version-conflict] peer-recruitment-approval v1 is defined twice" in other.err


def test_warnings_fail_only_with_strict(sopflow, tmp_path):
    misnamed = tmp_path / "bench.yaml"  # the name should be <id>.v<version>.yaml
    misnamed.write_text(read(BENCH), encoding="utf-8")

    relaxed = sopflow("sop", "validate", str(misnamed))
    strict = sopflow("sop", "validate", "--strict", str(misnamed))

    assert (
        "warning[file-name] file name should be 'peer-recruitment-approval.v1.yaml'" in relaxed.err
    )
    assert relaxed.code == 0
    assert strict.code == 1


# ---------------------------------------------------------------- publish


@pytest.fixture
def own_store(sopflow, tmp_path, monkeypatch):
    """A database of this test's own: what it publishes stays out of the other tests."""
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'publish.db'}")
    monkeypatch.setenv("SOPFLOW_DATA_DIR", str(tmp_path / "data"))
    bootstrap.settings.cache_clear()
    monkeypatch.setattr(bootstrap, "_services", None)
    yield sopflow
    if bootstrap._services is not None:
        bootstrap._services.ctx.store.engine.dispose()
    bootstrap.settings.cache_clear()


def test_publish_prints_the_warnings_validate_prints(own_store, tmp_path):
    """BUG: `sop publish` printed no warning at all."""
    text = read(BENCH).replace("\nversion: 1\n", "\nversion: 7\n")
    misnamed = tmp_path / "bench.yaml"
    misnamed.write_text(text, encoding="utf-8")

    validated = own_store("sop", "validate", str(misnamed))
    published = own_store("sop", "publish", str(misnamed))

    warnings = [line for line in validated.err.splitlines() if "warning[" in line]
    assert warnings and "warning[file-name]" in warnings[0]
    assert published.err.splitlines()[: len(warnings)] == warnings
    assert "peer-recruitment-approval v7 registered" in published.err
    assert published.code == 0


def test_publish_refuses_what_validate_refuses(own_store, tmp_path):
    broken = tmp_path / "peer-recruitment-approval.v8.yaml"
    broken.write_text(read(BENCH).replace("\nversion: 1\n", "\nversion: 8\n")
                      .replace("to: submitted,", "to: submited,"), encoding="utf-8")  # fmt: skip

    published = own_store("sop", "publish", str(broken))

    assert "error[unknown-state] unknown state 'submited'" in published.err
    assert "registered" not in published.err
    assert published.code == 1


# ---------------------------------------------------------------- list and show


def test_list_shows_every_shipped_sop(sopflow):
    result = sopflow("sop", "list", "--json")

    rows = json.loads(result.out)
    assert [(r["id"], r["version"]) for r in rows] == [
        ("eg-mom-international-placement", 1),
        ("tn-dgpemoe-foreign-worker-contract", 1),
    ]
    assert all(r["content_hash"].startswith("sha256:") for r in rows)
    assert result.code == 0


def test_list_as_a_table(sopflow):
    result = sopflow("sop", "list")

    assert result.code == 0
    assert "eg-mom-i" in result.out
    assert "tn-dgpem" in result.out


def test_show_json_gives_the_normalised_spec(sopflow):
    result = sopflow("sop", "show", "tn-dgpemoe-foreign-worker-contract", "--json")

    shown = json.loads(result.out)
    assert result.code == 0
    assert {"roles", "fields", "states", "transitions", "content_hash", "file"} <= set(shown)
    sop = compiled(TN)
    assert shown["content_hash"] == sop.content_hash
    assert [s["id"] for s in shown["states"]] == list(sop.states)
    assert shown["transitions"][0]["from"] == ["draft"]
    assert (
        SopSpec.model_validate(
            {k: v for k, v in shown.items() if k not in ("content_hash", "file")}
        )
        == sop.spec
    )


def test_show_as_tables(sopflow):
    result = sopflow("sop", "show", "eg-mom-international-placement", "--locale", "fr")

    assert result.code == 0
    assert "Placement de travailleurs égyptiens" in result.out
    assert "issue_work_permit" in result.out


def test_a_language_sopflow_does_not_speak_is_a_usage_error(sopflow):
    for command in ("show", "graph"):
        result = sopflow("sop", command, "eg-mom-international-placement", "--locale", "de")

        assert result.code == 2, command  # not the English words under a German flag
        assert "--locale" in result.err and "'de' is not one of 'ar', 'fr'," in result.err


def test_show_an_unknown_sop_exits_1_with_a_not_found_message(sopflow):
    result = sopflow("sop", "show", "no-such-sop")

    assert result.code == 1
    assert "error[not-found] no SOP 'no-such-sop'" in result.err
    assert "eg-mom-international-placement" in result.err  # the known ones are listed


# ---------------------------------------------------------------- graph


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split("-")[0])
def test_mermaid_graph_has_every_state_and_the_roles_on_every_edge(sopflow, path):
    sop = compiled(path)

    result = sopflow("sop", "graph", sop.spec.id, "--format", "mermaid")

    assert result.code == 0
    assert result.out.count("stateDiagram-v2") == 1
    for state in sop.states:
        assert f'state "{state}" as {state}' in result.out
    for source, trigger, target in edges(sop):
        roles = " | ".join(sop.by_state[source][trigger].roles)
        assert f"{source} --> {target}: {trigger} [{roles}]" in result.out


def test_dot_graph_has_every_state_and_the_roles_on_every_edge(sopflow):
    sop = compiled(EG)

    result = sopflow("sop", "graph", sop.spec.id, "--format", "dot")

    assert result.code == 0
    assert result.out.startswith("digraph")
    for state in sop.states:
        assert f'{state} [label="{state}' in result.out
    for source, trigger, target in edges(sop):
        roles = " | ".join(sop.by_state[source][trigger].roles)
        assert f'{source} -> {target} [label="{trigger} [{roles}]"]' in result.out


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split("-")[0])
def test_graph_prints_the_diagram_unchanged(sopflow, path, fmt):
    """BUG: since the `out` console lost soft_wrap and got width=160 when piped, rich wraps
    every line longer than 160 characters: the DOT graph's label line (the SOP title) is
    cut in two. A long title would break Mermaid's front matter, a long text the schema."""
    sop = compiled(path)

    result = sopflow("sop", "graph", sop.spec.id, "--format", fmt)

    assert result.out.rstrip("\n").splitlines() == diagram(sop, fmt).rstrip("\n").splitlines()


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize("locale", ["fr", "ar"])
def test_graph_in_a_language_names_states_and_steps_in_it(sopflow, fmt, locale):
    """BUG: --locale fr|ar translated the title only; states and edges stayed ids."""
    sop = compiled(EG)

    result = sopflow("sop", "graph", sop.spec.id, "--format", fmt, "--locale", locale)

    assert result.code == 0
    for state in sop.spec.states:
        named = state.label.get(locale)
        assert (f'state "{named}" as {state.id}' if fmt == "mermaid"
                else f'{state.id} [label="{named}"') in result.out  # fmt: skip
    for tr in sop.spec.transitions:
        assert tr.label.get(locale) in result.out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split("-")[0])
def test_graph_marks_final_states_and_no_state_as_current(sopflow, path):
    """BUG: final states were drawn as any other, and the initial one as 'active'."""
    sop = compiled(path)
    finals = {s.id for s in sop.spec.states if s.final}

    mermaid = sopflow("sop", "graph", sop.spec.id).out
    dot = sopflow("sop", "graph", sop.spec.id, "--format", "dot").out

    for state in sop.spec.states:
        assert (f"  {state.id} --> [*]" in mermaid) == (state.id in finals)
        line = next(x for x in dot.splitlines() if x.strip().startswith(f"{state.id} [label="))
        assert ("peripheries=2" in line) == (state.id in finals), line
    assert "Class " + sop.initial + " s_default" in mermaid
    assert mermaid.count("s_active") == 1  # its classDef only: no request is shown
    assert "darksalmon" not in dot


def test_a_diagram_highlights_the_state_of_the_request_it_shows():
    sop = compiled(EG)
    final = next(s.id for s in sop.spec.states if s.final)

    dot = diagram(sop, "dot", "fr", labels=True, current="attestation_review")
    on_final = diagram(sop, "dot", "fr", labels=True, current=final)
    mermaid = diagram(sop, "mermaid", current="attestation_review")

    line = next(x for x in dot.splitlines() if x.strip().startswith("attestation_review ["))
    assert "fillcolor=darksalmon" in line and dot.count("darksalmon") == 1
    line = next(x for x in on_final.splitlines() if x.strip().startswith(f"{final} ["))
    assert "fillcolor=darksalmon" in line and "peripheries=2" in line
    assert "Class attestation_review s_active" in mermaid
    assert mermaid.count("s_active") == 2  # its classDef and the one state


def test_graph_with_a_bad_format_is_a_usage_error(sopflow):
    result = sopflow("sop", "graph", "eg-mom-international-placement", "--format", "png")

    assert result.code == 2
    assert "use mermaid or dot" in result.err


def test_unknown_command_is_a_usage_error(sopflow):
    assert sopflow("sop", "bogus").code == 2


# ---------------------------------------------------------------- schema


def test_schema_is_the_json_schema_of_the_sop_language(sopflow):
    result = sopflow("sop", "schema")

    schema = json.loads(result.out)
    assert result.code == 0
    assert schema == sop_json_schema()
    assert set(SopSpec.model_fields) <= set(schema["properties"]) | {"source"}
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", sorted(Path("sop_definitions").glob("*.yaml")), ids=str)
def test_the_shipped_sops_satisfy_the_editor_schema(path):
    """Editors check SOP files with the generated schema: short forms included."""
    import jsonschema
    from ruamel.yaml import YAML

    data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
    jsonschema.Draft202012Validator(sop_json_schema()).validate(data)


def test_a_language_is_read_whatever_its_case(sopflow):
    result = sopflow("sop", "show", "eg-mom-international-placement", "--locale", "FR")

    assert result.code == 0
    assert "Placement de travailleurs égyptiens" in result.out
