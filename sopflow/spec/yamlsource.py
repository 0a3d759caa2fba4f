"""YAML text to plain Python data, with the line and column of every key and value.

We compose the document with ruamel.yaml (YAML 1.2) and build the values ourselves from
the node tree, so that nothing is silently accepted: duplicate keys, anchors/aliases,
custom tags, documents that are too deep or too large and YAML 1.1 booleans written
as plain words are reported with their place instead of being resolved quietly.
Pure: takes text, returns data; reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sopflow.errors import SopIssue
from sopflow.spec.yaml_syntax import explain

# an SOP is ~60 KB; the YAML parser takes ~20 s per MB of the worst shapes (one key a line),
# so a larger file is refused unread (tests/reliability/test_loader_hostile.py)
MAX_BYTES = 256_000
MAX_DEPTH = 40
MAX_FLOW_DEPTH = 10  # [ and { inside each other: the parser's time grows with its square
MAX_NODES = 100_000
YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}

Path = tuple[str | int, ...]


def describe(path: Path) -> str:
    """A place in the document as an author reads it: ``reason_codes[5].label``."""
    text = ""
    for seg in path:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else seg)
    return text or "the document"


@dataclass
class SourceMap:
    """Where each path of the document sits: value positions and key positions (1-based)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    quoted: set[Path] = field(default_factory=set)  # scalars whose position is their quote
    # quoted, block (| >) and multi-line scalars: where their text starts in ``text`` (an
    # index past the quote or the block header), to find a character inside them
    spans: dict[Path, int] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The closest known position for ``path``: itself, else its nearest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def locate_in(self, path: Path, value: str, offset: int) -> tuple[int, int]:
        """The place of ``value[offset]``, ``value`` being the scalar at ``path``: a
        character of a block scalar (``|``, ``>``), folded or not, of a quoted or a
        multi-line one is found by walking the source alongside the value (indentation,
        folds and escapes are in the one and not in the other)."""
        line, column = self.locate(path)
        start = self.spans.get(path)
        if start is None:  # a plain scalar on one line: its text is the source's
            return line, column + offset
        index = _align(value, self.text, start, offset)
        if index is None:
            return line, column
        line = self.text.count("\n", 0, index) + 1
        return line, index - (self.text.rfind("\n", 0, index) + 1) + 1

    def issue(
        self,
        path: Path,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        key: bool = False,
        severity: str = "error",
    ) -> SopIssue:
        line, column = self.locate(path, key=key)
        return SopIssue(
            code=code,
            message=message,
            file=self.file,
            line=line,
            column=column,
            hint=hint,
            severity="warning" if severity == "warning" else "error",
        )


def _align(value: str, text: str, start: int, offset: int) -> int | None:
    """The index in ``text`` of ``value[offset]``, ``value`` being read from ``text`` at
    ``start``. Every character that is not blank is in the source in order; blanks and
    line breaks may have been added (a fold), dropped (indentation) or escaped."""
    j = start
    for i, char in enumerate(value[: offset + 1]):
        if char.isspace():
            found = j
            if j < len(text) and text[j] == char:
                j += 1
        else:
            while j < len(text) and text[j] != char:
                j += 1  # indentation, a fold, an escape ('\\', "''")
            if j >= len(text):
                return None
            found = j
            j += 1
        if i == offset:
            return found
    return None


def _pos(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _tag(node: Node) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag))


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.issues: list[SopIssue] = []
        self.seen: set[int] = set()
        self.count = 0

    def fail(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        line, column = _pos(node)
        self.issues.append(SopIssue(code, message, self.source.file, line, column, hint=hint))

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
        if depth > MAX_DEPTH:
            self.fail(node, "yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels")
            return None
        if id(node) in self.seen or getattr(node, "anchor", None):
            self.seen.add(id(node))
            return None  # anchors and aliases: reported where written (``_alias_issues``)
        self.seen.add(id(node))
        self.source.values[path] = _pos(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.style in ("'", '"'):
            self.source.quoted.add(path)
        if node.style or node.start_mark.line != node.end_mark.line:
            start = node.start_mark.index
            if node.style in ("|", ">"):  # the text starts on the line after the header
                start = self.source.text.find("\n", start) + 1 or len(self.source.text)
            elif node.style:
                start += 1  # past the quote
            self.source.spans[path] = start
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, "yaml-key", "mapping keys must be plain words")
                continue
            key = str(key_node.value)
            if key == "<<":
                self.fail(key_node, "yaml-alias", "merge keys ('<<') are not allowed")
                continue
            if key in first_seen:
                line, column = first_seen[key]
                self.fail(
                    key_node,
                    "duplicate-key",
                    f"duplicate key '{key}' (first defined at line {line}, column {column})",
                    hint="each key may appear once per mapping",
                )
                continue
            first_seen[key] = _pos(key_node)
            self.source.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        tag, text = _tag(node), str(node.value)
        if node.style == ">":
            # ruamel's composer marks each fold of a folded block with BEL ('\a') so that
            # it can dump the text folded again; the folded text itself has only the space
            text = text.replace("\a", "")
        plain = node.style is None
        if plain and text.lower() in YAML11_BOOLEANS:
            line, column = _pos(node)
            self.issues.append(
                SopIssue(
                    "yaml11-boolean",
                    f"'{text}' is read as the string \"{text}\" (YAML 1.2), "
                    "though YAML 1.1 tools read it as a boolean",
                    self.source.file,
                    line,
                    column,
                    hint="write true/false for a boolean, or quote it for a string",
                    severity="warning",
                )
            )
        try:
            return _resolve(tag, text)
        except ValueError as exc:
            self.fail(node, "yaml-value", str(exc))
            return text


def _resolve(tag: str, text: str) -> Any:
    if tag.endswith(":str"):
        return text
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return text.lower() == "true"
    if tag.endswith(":int"):
        cleaned = text.replace("_", "")
        if cleaned.lower().startswith(("0x", "0o", "0b")):
            return int(cleaned, 0)
        return int(cleaned)
    if tag.endswith(":float"):
        lowered = text.lower()
        if lowered in (".nan", ".inf", "+.inf", "-.inf"):
            raise ValueError(f"'{text}' is not a finite number")
        return float(text)
    if tag.endswith(":timestamp"):
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    raise ValueError(f"tag '{tag}' is not allowed in SOP files")


def _alias_issues(text: str, file: str) -> list[SopIssue]:
    """Anchors and aliases, each where it is written (the composed node has one place only)."""
    issues = []
    hint = "write the value out in full so reviewers see it where it applies"
    for event in YAML(typ="rt", pure=True).parse(text):
        kind = type(event).__name__
        if kind == "AliasEvent" or getattr(event, "anchor", None):
            mark = event.start_mark
            what = "alias" if kind == "AliasEvent" else "anchor"
            issues.append(SopIssue("yaml-alias", f"an {what} ('{event.anchor}'): anchors and "
                                   "aliases are not allowed in SOP files", file, mark.line + 1,
                                   mark.column + 1, hint=hint))  # fmt: skip
    return issues


def _flow_too_deep(text: str, file: str) -> SopIssue | None:
    """Flow collections (``[`` ``{``) nested deeper than MAX_FLOW_DEPTH, found by a linear
    scan before parsing; quoted strings and comments are skipped."""
    depth, line, column, quote, comment, previous = 0, 1, 0, "", False, "\n"
    for char in text:
        column += 1
        if char == "\n":
            line, column, comment = line + 1, 0, False
            quote = "" if quote == "'" or (quote == '"' and previous != "\\") else quote
        elif comment:
            pass
        elif quote:
            if char == quote and (quote == "'" or previous != "\\"):
                quote = ""
        elif char in "'\"" and previous in " \t\n[{,:":
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return SopIssue("yaml-too-deep", f"'[' and '{{' nested deeper than "
                                f"{MAX_FLOW_DEPTH} levels", file, line, column)  # fmt: skip
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
    return None


class _TooLarge(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[SopIssue]]:
    """Parse ``text``; return the data (None when unusable), its source map and the issues."""
    source = SourceMap(file, text=text)
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        return (
            None,
            source,
            [SopIssue("yaml-too-large", f"file larger than {MAX_BYTES} bytes", file)],
        )
    too_deep = _flow_too_deep(text, file)
    if too_deep is not None:
        return None, source, [too_deep]
    try:
        root = YAML(typ="rt", pure=True).compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem, hint = explain(exc)
        return None, source, [SopIssue("yaml-syntax", problem, file, line, column, hint=hint)]
    except RecursionError:
        return (
            None,
            source,
            [SopIssue("yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels", file)],
        )
    except YAMLError as exc:
        return None, source, [SopIssue("yaml-syntax", str(exc).splitlines()[0], file)]
    if root is None:
        return None, source, [SopIssue("yaml-empty", "the file holds no YAML document", file)]
    builder = _Builder(source)
    if "&" in text or "*" in text:  # a second parse, only where an anchor may be
        builder.issues.extend(_alias_issues(text, file))
    try:
        data = builder.build(root, (), 0)
    except _TooLarge as exc:
        line, column = _pos(exc.node)
        builder.issues.append(
            SopIssue("yaml-too-large", f"more than {MAX_NODES} YAML nodes", file, line, column)
        )
        data = None
    except RecursionError:
        builder.issues.append(SopIssue("yaml-too-deep", "nesting too deep", file))
        data = None
    if data is None and not any(i.severity == "error" for i in builder.issues):
        builder.issues.append(
            SopIssue("yaml-empty", "the file holds no SOP (a null document)", file)
        )
    return data, source, builder.issues
