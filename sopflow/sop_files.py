"""SOP files on disk: find the shipped ones, read folders, build the catalogue of versions.

The adapter between the file system and the pure SOP language: it reads the text, and the
core parses and compiles it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from notifications.catalogue import TEMPLATE_IDS
from sopflow.errors import NotFound, SopDefinitionError, SopIssue
from sopflow.spec.loader import ParsedSop
from sopflow.spec.yamlsource import MAX_BYTES
from states.machine import CompiledSop, check_sop, compile_sop

PACKAGE_ROOT = Path(__file__).resolve().parent


def shipped_sop_dir() -> Path:
    """``sop_definitions/`` of the checkout, or its copy inside an installed wheel."""
    for candidate in (PACKAGE_ROOT.parent / "sop_definitions", PACKAGE_ROOT / "_sop_definitions"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the shipped sop_definitions folder is missing")


def display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    """The file's text; a file over ``MAX_BYTES`` is refused after reading one byte more
    than the limit, never whole (``/dev/zero``, a FIFO or a huge file cost no memory)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise SopDefinitionError(
                [SopIssue("yaml-too-large", f"file larger than {MAX_BYTES} bytes",
                          display_name(path), hint="an SOP file is well under 100 KB")]
            )  # fmt: skip
        # decoded as Path.read_text decodes (universal newlines), so hashes do not change
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()
    except UnicodeDecodeError as exc:
        raise SopDefinitionError(
            [SopIssue("not-utf8", f"the file is not UTF-8 text ({exc.reason})", display_name(path))]
        ) from exc
    except OSError as exc:
        raise SopDefinitionError(
            [SopIssue("unreadable", f"cannot read the file: {exc.strerror}", display_name(path))]
        ) from exc


def check_file(path: Path) -> list[SopIssue]:
    """Every issue of one SOP file, including whether its name matches its id and version."""
    name = display_name(path)
    try:
        text = read_text(path)
    except SopDefinitionError as exc:
        return exc.issues
    parsed, issues = check_sop(text, name, templates=TEMPLATE_IDS)
    spec = parsed.spec
    if spec is not None and not any(i.severity == "error" for i in issues):
        issues += template_issues(parsed)
    if spec is not None:
        expected = f"{spec.id}.v{spec.version}.yaml"
        if path.name != expected:
            issues.append(
                SopIssue("file-name", f"file name should be '{expected}'", name, severity="warning")
            )
    return sorted(issues, key=lambda i: (i.line, i.column, i.code))


def template_issues(parsed: ParsedSop) -> list[SopIssue]:
    """Render every template the SOP names, in every language, against the context notices
    get: a template using a variable that will not exist fails now, not at 3 a.m."""
    from notifications.render import TemplateRenderer

    assert parsed.spec is not None
    places: dict[str, tuple[str | int, ...]] = {}
    for i, tr in enumerate(parsed.spec.transitions):
        for j, notice in enumerate(tr.notify):
            places.setdefault(notice.template, ("transitions", i, "notify", j, "template"))
    for i, state in enumerate(parsed.spec.states):
        for j, notice in enumerate(state.on_breach.notify if state.on_breach else ()):
            places.setdefault(notice.template, ("states", i, "on_breach", "notify", j, "template"))
    renderer = TemplateRenderer()
    return [parsed.source.issue(path, "template-error", f"template '{name}': {problem}")
            for name, path in places.items() for problem in renderer.check(name)]  # fmt: skip


def compile_file(path: Path) -> CompiledSop:
    return compile_sop(read_text(path), display_name(path), templates=TEMPLATE_IDS)


def compile_text(text: str, name: str) -> CompiledSop:
    return compile_sop(text, name, templates=TEMPLATE_IDS)


@dataclass
class SopCatalogue:
    """Every loaded SOP version, by id and version and by content hash."""

    versions: dict[tuple[str, int], CompiledSop] = field(default_factory=dict)
    problems: list[SopIssue] = field(default_factory=list)

    def add(self, sop: CompiledSop) -> None:
        existing = self.versions.get(sop.key)
        if existing is not None and existing.content_hash != sop.content_hash:
            raise SopDefinitionError(
                [
                    SopIssue(
                        "version-conflict",
                        f"{sop.spec.id} v{sop.spec.version} is defined twice with other content "
                        f"({existing.file} and {sop.file})",
                        sop.file,
                        hint="publish changes as a new version number",
                    )
                ]
            )
        self.versions[sop.key] = sop

    def ids(self) -> list[str]:
        return sorted({key[0] for key in self.versions})

    def all_versions(self, sop_id: str) -> list[CompiledSop]:
        return sorted(
            (s for k, s in self.versions.items() if k[0] == sop_id), key=lambda s: s.spec.version
        )

    def get(self, sop_id: str, version: int | None = None) -> CompiledSop:
        if version is not None:
            found = self.versions.get((sop_id, version))
            if found is None:
                raise NotFound(f"SOP '{sop_id}' has no version {version}")
            return found
        versions = self.all_versions(sop_id)
        if not versions:
            known = ", ".join(self.ids()) or "none"
            raise NotFound(f"no SOP '{sop_id}' (known: {known})")
        return versions[-1]

    def by_hash(self, content_hash: str) -> CompiledSop | None:
        return next((s for s in self.versions.values() if s.content_hash == content_hash), None)

    @classmethod
    def from_dirs(cls, dirs: Iterable[Path]) -> SopCatalogue:
        """Load every ``*.yaml`` of ``dirs``; a broken file is kept in ``problems``."""
        catalogue = cls()
        for folder in dirs:
            for path in sorted(folder.glob("*.yaml")):
                try:
                    catalogue.add(compile_file(path))
                except SopDefinitionError as exc:
                    catalogue.problems.extend(exc.issues)
        return catalogue
