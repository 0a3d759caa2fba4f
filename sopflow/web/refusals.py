"""A refusal said in the page reader's language.

Errors carry a stable code, an English message (the API, the CLI and the record keep it)
and, where the message says something about the request, the values it says
(``params``). A page rebuilds the sentence from ``refusals.yaml`` in the reader's
language, naming fields, steps, stages, roles, documents and reasons by the SOP's own
labels. It works on the error's dictionary (``to_dict()``), the form in which a refusal
comes back from a flow run. A code or a value it does not know falls back to the English
message: a refusal is never lost, at worst it is said in English.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.units import format_unit
from ruamel.yaml import YAML

from sopflow.errors import AdapterError, SopflowError
from states.machine import CompiledSop

SENTENCES: dict[str, dict[str, str]] = YAML(typ="safe").load(
    (Path(__file__).parent / "refusals.yaml").read_text("utf-8")
)
_LIST = {"ar": "، "}  # how a list is joined: "a, b, c"; Arabic has its own comma
_ITEMS = {"fr": "\u00a0; ", "ar": "؛ "}  # and a list of sentences: "a; b" (French: a space before)
_COLON = {"fr": " : "}  # "label: what is wrong"; French puts a space before the colon
_QUOTES = {"en": "“{}”", "fr": "« {} »", "ar": "«{}»"}  # a choice, which may hold commas


@dataclass(frozen=True)
class Refusal:
    summary: str  # the whole refusal, one paragraph
    fields: dict[str, str] = field(default_factory=dict)  # field or document kind -> why


class _Labels:
    """The SOP's own names of what an error mentions, in one language (ids if unknown)."""

    def __init__(self, sop: CompiledSop | None, lang: str, names: Mapping[str, str] | None = None,
                 choices: Callable[[str, str], str] | None = None) -> None:  # fmt: skip
        self.lang, self.sop = lang, sop
        self._names, self._choices = names or {}, choices
        spec = sop.spec if sop else None
        self._triggers = {t.trigger: t.label for t in reversed(spec.transitions)} if spec else {}
        self._documents = {d.id: d.label for d in spec.documents} if spec else {}
        self._reasons = {r.id: r.label for r in spec.reason_codes} if spec else {}

    def _get(self, table: Mapping[str, Any], key: Any) -> str:
        found = table.get(str(key))
        return found.get(self.lang) if found is not None else str(key)

    def field(self, name: str) -> str:
        """An SOP field by its label; a part of every command (comment, reason...) by its
        own name; a field of a form that is not an SOP's by the label the page gave (the
        statistics filters); anything else as it is."""
        if name in self._names:
            return self._names[name]
        spec = self.sop.fields.get(name) if self.sop else None
        return spec.label.get(self.lang) if spec else _say(f"part:{name}", self.lang) or name

    def trigger(self, trigger: Any) -> str:
        return self._get(self._triggers, trigger)

    def state(self, state: Any) -> str:
        known = self.sop.states.get(str(state)) if self.sop else None
        return known.label.get(self.lang) if known else str(state)

    def role(self, role: Any) -> str:
        known = self.sop.roles.get(str(role)) if self.sop else None
        return known.title.get(self.lang) if known else str(role)

    def document(self, kind: Any) -> str:
        if str(kind) not in self._documents:  # the attach form's "other document"
            return _say(f"part:{kind}", self.lang) or str(kind)
        return self._get(self._documents, kind)

    def reason(self, reason: Any) -> str:
        return self._get(self._reasons, reason)

    def choice(self, name: str, value: Any) -> str:
        if self._choices is not None:
            return self._choices(name, str(value))
        spec = self.sop.fields.get(name) if self.sop else None
        labels = {v.id: v.label for v in getattr(spec, "values", ())}
        return self._get(labels, value)

    def listed(self, items: Sequence[str]) -> str:
        return _LIST.get(self.lang, ", ").join(items)

    def quoted(self, text: str) -> str:
        return _QUOTES.get(self.lang, _QUOTES["en"]).format(text)


def _say(key: str, lang: str, **values: Any) -> str | None:
    """The sentence ``key`` in ``lang``, or None when there is none or a value is missing."""
    sentence = SENTENCES.get(key)
    if sentence is None:
        return None
    try:
        return (sentence.get(lang) or sentence["en"]).format(**values)
    except (KeyError, IndexError):
        return None


def _value(item: Mapping[str, Any], name: str, labels: _Labels) -> str:
    """What is wrong with one value (a field or a document), without its name."""
    code, params, lang = item.get("code", ""), dict(item.get("params") or {}), labels.lang
    if code in ("missing-field", "missing-document"):
        key = "required"
    elif code == "out-of-range":
        key = f"out-of-range:{params.get('bound')}"
    elif code == "wrong-type":
        key = f"expected:{params.get('expected')}"
    elif code == "document-type" and isinstance(params.get("allowed"), list):
        key = "document-type:allowed"  # a type the SOP does not accept for this kind
        params["allowed"] = labels.listed(params["allowed"])
    else:
        key = code
    if code in ("not-in-enum", "unknown-dimension") and isinstance(params.get("allowed"), list):
        choices = [labels.quoted(labels.choice(name, v)) for v in params["allowed"]]
        params["allowed"] = labels.listed(choices)
    if code == "unknown-reason" and isinstance(params.get("allowed"), list):
        params["allowed"] = labels.listed([labels.quoted(labels.reason(r))
                                           for r in params["allowed"]])  # fmt: skip
    if code == "document-not-providable" and isinstance(params.get("providers"), list):
        params["providers"] = labels.listed([labels.role(r) for r in params["providers"]])
    if code == "field-frozen" and "state" in params:
        params["state"] = labels.state(params["state"])
    if code == "document-too-large" and isinstance(params.get("limit"), int):
        params["size"] = format_unit(params["limit"] / 1_000_000, "digital-megabyte",
                                     length="short", locale=lang)  # fmt: skip
    return _say(key, lang, **params) or str(item.get("message", ""))


def _unmet_all(unmet: Iterable[Mapping[str, Any]], labels: _Labels,
               fields: dict[str, str]) -> list[str]:  # fmt: skip
    """Each unmet requirement as a clause, also put in ``fields`` beside the input it is
    about: a field, a document, the step's comment or reason (``@comment``, ``@reason``),
    the fields a failed condition reads."""
    said = []
    for item in unmet:
        said.append(_unmet(item, labels))
        if item.get("code") in ("missing-field", "missing-document") and item.get("subject"):
            fields.setdefault(str(item["subject"]), said[-1])
        elif item.get("code") in ("comment-required", "reason-required"):
            fields["@" + str(item.get("subject"))] = said[-1]
        for name in (item.get("params") or {}).get("fields", ()):
            fields.setdefault(str(name), said[-1])
    return said


def _unmet(item: Mapping[str, Any], labels: _Labels) -> str:
    """One requirement of a step that is not met, as a clause."""
    code, params, lang = item.get("code", ""), dict(item.get("params") or {}), labels.lang
    said: str | None = None
    if code == "missing-field":
        said = _say(code, lang, field=labels.field(str(params.get("field", item.get("subject")))))
    elif code == "missing-document":
        key = "missing-new-document" if params.get("new") else code  # one on file is not it
        said = _say(key, lang, document=labels.document(params.get("document")))
    elif code == "comment-required":
        said = _say(code, lang)
    elif code == "reason-required":
        reasons = labels.listed([labels.reason(r) for r in params.get("reasons", ())])
        said = _say(code, lang, reasons=reasons)
    elif code == "rule-failed":
        named = {**params}
        for key, name in (("trigger", labels.trigger), ("document", labels.document),
                          ("field", labels.field), ("state", labels.state)):  # fmt: skip
            if key in named:
                named[key] = name(named[key])
        said = _say(f"rule:{params.get('why')}", lang, **named)
    elif code in ("condition-failed", "condition-error"):
        message = params.get("message") or {}
        said = message.get(lang) or message.get("en")
        empty = params.get("empty") or []
        if code == "condition-error" and said and empty:  # what to fill in for it to be judged
            fields = labels.listed([labels.quoted(labels.field(str(n))) for n in empty])
            said = _say(code, lang, message=said, fields=fields)
    return said or str(item.get("message", ""))


def explain(error: Mapping[str, Any], lang: str, sop: CompiledSop | None = None, *,
            names: Mapping[str, str] | None = None,
            choices: Callable[[str, str], str] | None = None) -> Refusal:  # fmt: skip
    """``error`` (an error's ``to_dict()``) said in ``lang`` with ``sop``'s labels. A page
    whose form is not an SOP's gives its own: ``names`` (field -> its label) and
    ``choices`` (field, value -> the label of that choice)."""
    labels, code = _Labels(sop, lang, names, choices), str(error.get("code", ""))
    items = _ITEMS.get(lang, "; ")
    fields: dict[str, str] = {}
    summary: str | None = None
    if code == "invalid-data":
        said = []
        for item in error.get("errors", ()):
            name = str(item.get("field", ""))
            bare = name.removeprefix("document:")
            fields[bare] = _value(item, bare, labels)
            label = labels.document(bare) if name.startswith("document:") else labels.field(name)
            said.append(f"{label}{_COLON.get(lang, ': ')}{fields[bare]}")
        # the step's requirements found unmet beside bad files (a form's every mistake)
        said += _unmet_all(error.get("unmet", ()), labels, fields)
        summary = _say(code, lang, items=items.join(said))
    elif code == "requirement-not-met":
        said = _unmet_all(error.get("unmet", ()), labels, fields)
        summary = _say(code, lang, trigger=labels.trigger(error.get("trigger")),
                       items=items.join(said))  # fmt: skip
    elif code == "trigger-not-allowed":
        state, trigger = error.get("state"), labels.trigger(error.get("trigger"))
        if sop is not None and state in sop.states and sop.is_final(str(state)):
            summary = _say("request-closed", lang, state=labels.state(state), trigger=trigger)
        else:
            allowed = labels.listed([labels.quoted(labels.trigger(t))
                                     for t in error.get("allowed", ())])  # fmt: skip
            summary = _say(code, lang, trigger=trigger, state=labels.state(state),
                           allowed=allowed or _say("nothing-possible", lang))  # fmt: skip
    elif code == "role-forbidden":
        roles = labels.listed([labels.role(r) for r in error.get("roles", ())])
        if error.get("trigger"):
            summary = _say(code, lang, trigger=labels.trigger(error["trigger"]), roles=roles)
        elif error.get("filing"):
            summary = _say("role-forbidden-filing", lang, roles=roles)
        elif error.get("attach"):
            summary = _say("role-forbidden-attach", lang, state=labels.state(error.get("state")))
    elif code == "separation-of-duties":
        summary = _say(code, lang, trigger=labels.trigger(error.get("trigger")),
                       earlier=labels.trigger(error.get("conflicts_with")))  # fmt: skip
    elif code == "conflict" and "state" in error:
        summary = _say(code, lang, state=labels.state(error["state"]))
    elif code == "not-found" and isinstance(error.get("sop"), str):  # statistics of an SOP
        summary = _say("not-found:sop", lang, sop=error["sop"])
    elif (code == "not-found" and "reference" in error) or code == "idempotency-key-reused":
        summary = _say(code, lang)  # a request's (not an SOP's, a user's...); a form sent again
    elif code == "unknown-trigger" and "trigger" in error:
        summary = _say(code, lang, trigger=error["trigger"])
    return Refusal(summary or str(error.get("message", "")), fields)


# the HTTP status of a refusal, for the API and the pages alike
STATUS = {
    "unauthorized": 401, "forbidden": 403, "role-forbidden": 403, "separation-of-duties": 403,
    "not-found": 404, "unknown-trigger": 404, "trigger-not-allowed": 409, "conflict": 409,
    "requirement-not-met": 409, "invalid-data": 422, "idempotency-key-reused": 422,
    "sop-invalid": 422, "database-error": 503, "orchestrator-error": 503,
}  # fmt: skip


def status_of(exc: SopflowError) -> int:
    """The HTTP status of ``exc``: also of a refusal a flow run reported, which comes back as
    its code and details (``workflows.client.rejection``), not as its own class."""
    if exc.code == "invalid-data" and any(
        e.get("code") == "document-too-large" for e in exc.to_dict().get("errors", ())
    ):
        return 413
    if exc.code == "conflict" and exc.to_dict().get("expected") is not None:
        return 412  # the version the caller stated (If-Match) is not the request's (RFC 9110)
    if isinstance(exc, AdapterError):
        storage = {"database-full": 507, "database-read-only": 503}
        return storage.get(exc.code, 503 if exc.retryable else 500)
    return STATUS.get(exc.code, 400)
