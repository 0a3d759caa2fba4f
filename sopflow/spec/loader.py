"""Parse an SOP file into an ``SopSpec``, turning every structural problem into a located issue.

Pure: takes the text and a display name for the file. ``parse_sop`` never raises for a bad
SOP: it returns the issues, which the caller reports all at once.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from sopflow.errors import SopIssue
from sopflow.spec import models
from sopflow.spec.models import SopSpec
from sopflow.spec.yamlsource import Path, SourceMap, describe, parse_yaml

_TYPE_ERRORS = (
    "string_type", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing",
    "bool_type", "bool_parsing", "list_type", "dict_type", "model_type", "model_attributes_type",
    "date_type", "date_parsing", "date_from_datetime_inexact", "date_from_datetime_parsing",
    "decimal_type", "decimal_parsing", "decimal_max_digits", "datetime_type",
)  # fmt: skip


# YAML problems after which the data is incomplete (values dropped): validating the rest
# would only add spurious errors
_CUT_SHORT = frozenset({"yaml-too-deep", "yaml-too-large", "yaml-alias"})


@dataclass(frozen=True)
class ParsedSop:
    """The outcome of parsing one file: the spec (None if unusable), where things are, issues."""

    file: str
    text: str
    content_hash: str
    spec: SopSpec | None
    source: SourceMap
    issues: list[SopIssue] = field(default_factory=list)


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# what a pattern of the SOP language asks for, in words (the default: identifiers)
_PATTERN_HINTS = {
    r"^[A-Z]{2,6}$": "2 to 6 capital letters, like EG or DEMO",
    r"^[A-Z]{3}$": "an ISO 4217 currency code in capitals, like USD",
    r"^[A-Z]{2}$": "an ISO 3166 country code in capitals, like EG",
}


def parse_sop(text: str, file: str) -> ParsedSop:
    data, source, issues = parse_yaml(text, file)
    spec: SopSpec | None = None
    if data is not None and not isinstance(data, dict):
        issues.append(source.issue((), "wrong-type", "an SOP file is a mapping of keys"))
    elif data is not None and not any(i.code in _CUT_SHORT for i in issues):
        # (a document the YAML layer had to cut short would only add spurious errors)
        try:
            spec = SopSpec.model_validate(data)
        except ValidationError as exc:
            reported = {(i.line, i.column) for i in issues if i.code == "yaml-value"}
            found = (_issue_for(e, data, source) for e in exc.errors() if not _rule_key(e, data))
            issues.extend(i for i in found if (i.line, i.column) not in reported)
    if any(i.severity == "error" for i in issues):
        spec = None
    return ParsedSop(file, text, content_hash(text), spec, source, issues)


def _data_path(loc: tuple[Any, ...], data: Any) -> Path:
    """Map pydantic's error location onto the document, dropping union tags."""
    path: list[str | int] = []
    node = data
    for seg in loc:
        if isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            path.append(seg)
            node = node[seg]
        elif isinstance(node, dict) and seg in node:
            path.append(str(seg))
            node = node[seg]
        elif isinstance(node, dict) and isinstance(seg, str) and node.get("type") == seg:
            continue  # discriminated-union tag, not a key of the document
        elif isinstance(seg, str) and "[" in seg:
            continue  # pydantic's name of a union member, e.g. 'function-after[...]'
        else:
            path.append(seg if isinstance(seg, int) else str(seg))
            node = None
    return tuple(path)


def _model_keys(path: Path, data: Any) -> list[str]:
    """The keys allowed in the mapping at ``path``, walking the models alongside the data."""
    current: Any = SopSpec
    node = data
    for seg in path:
        if isinstance(seg, int):
            node = node[seg] if isinstance(node, list) and seg < len(node) else None
            continue
        model = _pick_model(current, node)
        if model is None or seg not in _fields_by_key(model):
            return []
        current = _fields_by_key(model)[seg]
        node = node.get(seg) if isinstance(node, dict) else None
    model = _pick_model(current, node)
    return list(_fields_by_key(model)) if model else []


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _pick_model(annotation: Any, node: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    candidates = [
        a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    if len(candidates) > 1 and isinstance(node, dict):
        for model in candidates:
            tag = model.model_fields.get("type")
            if tag is not None and node.get("type") in typing.get_args(tag.annotation):
                return model
    return candidates[0] if candidates else None


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType) or origin is dict:
        return [x for arg in typing.get_args(annotation) for x in _flatten(arg)]
    return [annotation]


def _node_at(data: Any, path: Path) -> Any:
    node = data
    for seg in path:
        in_list = isinstance(seg, int) and isinstance(node, list) and seg < len(node)
        if not in_list and not (isinstance(node, dict) and seg in node):
            return None
        node = node[seg]
    return node


def _rule_as_key(item: Path, data: Any) -> str | None:
    """The hint for a rule written as a key: ``- agency_licence_valid:`` (a stray colon) is
    a mapping of one key to nothing, ``- agency_licence_valid: {...}`` one to parameters."""
    node = _node_at(data, item)
    if len(item) < 2 or item[-2] != "rules" or not isinstance(node, dict) or "rule" in node:
        return None
    others = [(k, v) for k, v in node.items() if k != "params"]
    if len(others) != 1:
        return None
    ((name, value),) = others
    if value is None and "params" in node:
        return f"did you mean 'rule: {name}'?"
    if value is None:
        return f"did you mean '- {name}' (without the colon) or '- rule: {name}'?"
    if isinstance(value, dict) and "params" not in node:
        return (
            f"a rule with parameters is written '- rule: {name}' and its parameters under 'params:'"
        )
    return None


def _rule_key(err: Any, data: Any) -> bool:
    """The ``missing 'rule'`` that comes with a rule written as a key: the unknown key's
    hint says it all, and a second issue at the same place would only distract."""
    path = _data_path(tuple(err["loc"]), data)
    return (
        err["type"] == "missing" and path[-1:] == ("rule",) and bool(_rule_as_key(path[:-1], data))
    )


def _did_you_mean(word: Any, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _issue_for(err: Any, data: Any, source: SourceMap) -> SopIssue:
    kind: str = err["type"]
    path = _data_path(tuple(err["loc"]), data)
    where = describe(path)
    if kind == "missing":
        return source.issue(
            path[:-1],
            "missing-key",
            f"{describe(path[:-1])}: missing required key '{path[-1]}'",
            key=False,
        )
    if kind == "extra_forbidden":
        allowed = _model_keys(path[:-1], data) or _ALL_KEYS
        return source.issue(
            path,
            "unknown-key",
            f"unknown key '{path[-1]}' in {describe(path[:-1])}",
            hint=_rule_as_key(path[:-1], data) or _did_you_mean(path[-1], allowed),
            key=True,
        )
    if kind == "literal_error":
        expected = [
            x.strip(" '")
            for x in str(err.get("ctx", {}).get("expected", "")).replace(" or ", ",").split(",")
            if x.strip()
        ]
        return source.issue(
            path,
            "invalid-value",
            f"{where}: {err['msg']}",
            hint=_did_you_mean(err.get("input"), expected),
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _field_type_issue(err, path, data, source)
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern"))
        return source.issue(
            path,
            "invalid-identifier",
            f"{where}: '{err.get('input')}' does not match {pattern}",
            hint=_PATTERN_HINTS.get(pattern, "identifiers are lower-case words joined by _ or -"),
        )
    if kind in _TYPE_ERRORS:
        return source.issue(path, "wrong-type", f"{where}: {err['msg']}", hint=_type_fix(err))
    if kind.islower() and "-" in kind:  # our own PydanticCustomError codes
        return source.issue(path, kind, f"{where}: {err['msg']}")
    return source.issue(path, "invalid-value", f"{where}: {err['msg']}")


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _type_fix(err: Any) -> str | None:
    """A value of the right content written as the wrong kind: a quoted number or boolean
    is a text in YAML (``working_days: "15"``), and a YAML 1.1 boolean word is a text."""
    kind, written = err["type"], err.get("input")
    if not isinstance(written, str):
        return None
    boolean = kind in ("bool_parsing", "bool_type")
    if boolean and written.lower() in ("yes", "no", "on", "off", "y", "n"):
        return "YAML 1.2 reads this as a text: write true or false"
    if boolean and written.strip() in ("true", "false"):
        return f"write {written.strip()} without quotes: in quotes it is a text"
    whole = kind.startswith("int_") and re.fullmatch(r"[+-]?\d+", written.strip())
    number = kind.startswith(("float_", "decimal_")) and _NUMBER_TEXT.match(written.strip())
    if whole or number:
        return f"write {written.strip()} without quotes: in quotes it is a text"
    return None


def _field_type_issue(err: Any, path: Path, data: Any, source: SourceMap) -> SopIssue:
    """A field's ``type`` missing or not one of the twelve, said in the language's words
    (pydantic speaks of tags and discriminators), located at the type when there is one."""
    node = err.get("input")
    types = ", ".join(_FIELD_TYPES[:-1]) + f" or {_FIELD_TYPES[-1]}"
    if not isinstance(node, dict) or "type" not in node:
        return source.issue(
            path,
            "missing-key",
            f"{describe(path)}: missing required key 'type'",
            hint=f"a field's type is one of {types}",
        )
    written = node["type"]
    shown = written if isinstance(written, str) else repr(written)
    hint = _type_hint(written)
    # the twelve are listed only when no suggestion points at one of them
    listed = "" if hint else f"; a field's type is one of {types}"
    return source.issue(
        (*path, "type"),
        "unknown-field-type",
        f"{describe(path)}: unknown field type '{shown}'{listed}",
        hint=hint,
    )


def _type_hint(written: Any) -> str | None:
    """The type meant: another language's name for it first (``number`` is no closer in
    spelling to ``integer`` than to ``enum``), else the closest spelling."""
    word = str(written).strip().lower()
    meant = _TYPE_SYNONYMS.get(word) or ((word,) if word in _FIELD_TYPES else ())
    if meant:
        return "did you mean " + " or ".join(f"'{t}'" for t in meant) + "?"
    return _did_you_mean(word, _FIELD_TYPES)


_ALL_KEYS = sorted(
    {
        (f.alias or name)
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel)
        for name, f in obj.model_fields.items()
    }
)
_FIELD_TYPES = [
    "string", "text", "email", "integer", "decimal", "money", "date", "boolean", "country",
    "isco08", "isic", "enum",
]  # fmt: skip


# what other schema languages, spreadsheets and programming languages call our types
_TYPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": ("integer", "decimal"), "numeric": ("integer", "decimal"),
    "int": ("integer",), "long": ("integer",), "count": ("integer",),
    "float": ("decimal",), "double": ("decimal",), "real": ("decimal",),
    "percent": ("decimal",), "percentage": ("decimal",),
    "str": ("string",), "varchar": ("string",), "char": ("string",), "phone": ("string",),
    "textarea": ("text",), "memo": ("text",), "mail": ("email",), "e-mail": ("email",),
    "bool": ("boolean",), "flag": ("boolean",), "checkbox": ("boolean",),
    "datetime": ("date",), "timestamp": ("date",),
    "currency": ("money",), "amount": ("money",), "price": ("money",),
    "nationality": ("country",), "occupation": ("isco08",), "isco": ("isco08",),
    "industry": ("isic",), "select": ("enum",), "choice": ("enum",),
    "dropdown": ("enum",), "options": ("enum",),
}  # fmt: skip
