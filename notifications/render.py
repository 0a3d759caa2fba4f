"""Rendering notices with Jinja2, safely.

``SandboxedEnvironment`` (templates cannot reach Python internals), ``StrictUndefined`` (a
missing variable is an error, found when the SOP is validated: ``check``), autoescape for
the HTML part. Request data only ever enters as values: text such as ``{{ 7*7 }}`` typed
by an employer is shown as typed, never executed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from notifications.catalogue import NOTICE_KINDS
from notifications.flags import say
from sopflow.domain.ports import Rendered

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALES = ("ar", "fr", "en")
PARTS = ("subject", "txt", "html")

# Every variable a template may use, with a sample value: validation renders each template
# an SOP names against it (the same keys as ``sopflow.services.notices.context``).
SAMPLE_CONTEXT: dict[str, Any] = {
    "sop": {"id": "eg-mom-international-placement", "version": 1, "title": "Sample SOP"},
    "authority": {"name": "Ministry of Labour"},
    "request": {"reference": "EG-2026-000123", "state_label": "Under review",
                "organisation": "Nile Recruitment", "url": "http://127.0.0.1:8000/r/x",
                "deadline": "2026-12-14 23:59 (Africa/Cairo)"},
    "step": {"trigger": "approve", "trigger_label": "Approve", "from_state_label": "Intake",
             "to_state_label": "Under review", "actor": "Mona Said", "role_title": "Clerk",
             "comment": "Please attach the attested contract.", "reason": "incomplete",
             "reason_label": "Incomplete file", "legal_clause": "law-14-2025-art-43",
             "legal_citation": "Law No. 14 of 2025, art. 43", "at": "2026-12-01 10:00"},
    "recipient": {"name": "Amal Hassan", "email": "amal@example.org", "kind": "requester"},
    "flags": ["worker fee charged: 100 SAR"],
}  # fmt: skip


class TemplateRenderer:
    def __init__(self, root: Path = TEMPLATES) -> None:
        self.root = root
        self._versions: dict[tuple[str, str], str] = {}
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                         default_for_string=False, default=False),
            keep_trailing_newline=True,
        )  # fmt: skip

    def locales(self, template: str) -> list[str]:
        return [loc for loc in LOCALES if (self.root / loc / f"{template}.subject.j2").exists()]

    def _files(self, template: str, locale: str) -> list[Path]:
        files = [self.root / locale / f"{template}.{part}.j2" for part in PARTS]
        return [*files, self.root / locale / "_layout.html.j2"]

    def version(self, template: str, locale: str) -> str:
        """A hash of the template's files: which exact text produced a notice."""
        key = (template, locale)
        if key not in self._versions:
            digest = hashlib.sha256()
            for path in self._files(template, locale):
                if path.exists():
                    digest.update(path.name.encode() + b"\0" + path.read_bytes())
            self._versions[key] = digest.hexdigest()[:16]
        return self._versions[key]

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        """Subject, text and HTML of ``template`` in ``locale`` (falling back to English)."""
        available = self.locales(template)
        if not available:
            raise KeyError(f"no template '{template}'")
        if locale not in available:
            locale = "en" if "en" in available else available[0]
        context = {**context, "flags": [say(f, locale) for f in context.get("flags") or ()]}
        parts = [self.env.get_template(f"{locale}/{template}.{part}.j2").render(context)
                 for part in PARTS]  # fmt: skip
        subject = " ".join(parts[0].split())
        return Rendered(subject, parts[1], parts[2], self.version(template, locale), locale)

    def check(self, template: str) -> list[str]:
        """Every problem of a template in every locale, rendered against the full context."""
        if template not in NOTICE_KINDS:
            return [f"'{template}' is not a notice kind"]
        problems = []
        for locale in LOCALES:
            missing = [p.name for p in self._files(template, locale)[:3] if not p.exists()]
            if missing:
                problems.append(f"{locale}: missing {', '.join(missing)}")
                continue
            try:
                self.render(template, locale, SAMPLE_CONTEXT)
            except TemplateError as exc:
                problems.append(f"{locale}/{template}: {type(exc).__name__}: {exc}")
        return problems
