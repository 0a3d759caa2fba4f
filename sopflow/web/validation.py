"""What the web framework finds wrong with a request, said with sopflow's codes.

FastAPI checks a route's parameters and body against their declared types before the
route runs, and reports pydantic's error types (``int_parsing``, ``extra_forbidden``...).
The API answers them as every other refusal: ``invalid-data`` whose errors carry the codes
of docs/errors.md §2.3, a message naming what is wrong and what is allowed, and the values
it says (``params``). Where an error is:

- a query or path parameter by its name (``limit``, ``at_seq``, ``from``);
- a header by its name (``Idempotency-Key``, as ``If-Match``);
- the body's members by their JSON path from the body (``body.sop``,
  ``body.documents[0].file_name``, ``body[0].kind`` for a body that is a list), the body
  as a whole as ``body``.

Dates in a query are ``YYYY-MM-DD`` only (``Day``; pydantic also reads ``20261206`` as a
count of seconds since 1970), moments ISO 8601 (``Moment``).
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticCustomError
from starlette.types import Message

from sopflow.errors import FieldError, InvalidData
from sopflow.text_input import strict_json

JSON_TYPES = ("application/json",)
F = TypeVar("F", bound=Callable[..., Any])

# pydantic's error type -> (our code, what it expects: the ``expected`` of wrong-type)
_WRONG_TYPE = {
    "int_parsing": "integer", "int_type": "integer", "int_from_float": "integer",
    "float_parsing": "number", "float_type": "number", "decimal_parsing": "number",
    "bool_parsing": "boolean", "bool_type": "boolean", "string_type": "text",
    "string_unicode": "text", "dict_type": "object", "model_type": "object",
    "model_attributes_type": "object", "list_type": "array", "date_parsing": "date",
    "date_type": "date", "date_from_datetime_parsing": "date",
    "date_from_datetime_inexact": "date", "datetime_parsing": "datetime",
    "datetime_type": "datetime", "datetime_from_date_parsing": "datetime",
    "datetime_object_invalid": "datetime",
}  # fmt: skip
_SAID = {
    "integer": "must be a whole number", "number": "must be a number",
    "boolean": "must be true or false", "text": "must be a text",
    "object": "must be a JSON object", "array": "must be a JSON array (a list)",
    "date": "is not a date (YYYY-MM-DD)",
    "datetime": "is not a moment (ISO 8601, e.g. 2026-12-06 or 2026-12-06T09:30:00+01:00; "
    "without a zone: UTC)",
}  # fmt: skip
_BOUNDS = {
    "greater_than_equal": ("min", "ge", "at least"), "greater_than": ("min", "gt", "above"),
    "less_than_equal": ("max", "le", "at most"), "less_than": ("max", "lt", "below"),
}  # fmt: skip


def _day(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("wrong-type", "{value} is not a date (YYYY-MM-DD)",
                                  {"value": repr(value), "expected": "date"})  # fmt: skip
    return value


def _moment(value: Any) -> Any:
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}(?:$|[T ])", value):
        raise PydanticCustomError("wrong-type", "{value} " + _SAID["datetime"],
                                  {"value": repr(value), "expected": "datetime"})  # fmt: skip
    return value


Day = Annotated[date, BeforeValidator(_day)]
Moment = Annotated[datetime, BeforeValidator(_moment)]


def _where(loc: Sequence[Any]) -> str:
    if not loc:
        return "request"
    place, rest = str(loc[0]), list(loc[1:])
    if place in ("query", "path", "cookie") and rest:
        return ".".join(str(p) for p in rest)
    if place == "header" and rest:
        return "-".join(w.capitalize() for w in str(rest[0]).split("-"))
    if place != "body":
        return ".".join(str(p) for p in loc)
    text = "body"
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _model_at(annotation: Any, path: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model found at ``path`` in a body of type ``annotation``."""
    for part in [*path, None]:
        while get_origin(annotation) in (Union, types.UnionType, Annotated):
            found = [a for a in get_args(annotation) if a is not type(None)]
            annotation = found[0] if found else None
        if part is None:
            break
        if isinstance(part, int) and get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else None
        else:
            return None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_error(error: Mapping[str, Any], body_type: Any = None) -> dict[str, Any]:
    """One of FastAPI's validation errors as one of ours: ``{field, code, message, params}``."""
    kind, loc = str(error["type"]), tuple(error.get("loc", ()))
    ctx, given = dict(error.get("ctx") or {}), error.get("input")
    where = _where(loc)
    code, params = "invalid-value", {}
    if "-" in kind:  # ours already (Day, Moment)
        code, message = kind, str(error["msg"])
        params = {k: v for k, v in ctx.items() if k != "value"}
    elif kind == "missing":
        code, message = "missing-field", "is required"
    elif kind == "extra_forbidden":
        model = _model_at(body_type, loc[1:-1]) if loc[:1] == ("body",) else None
        allowed = list(model.model_fields) if model else []
        code, params = "unknown-field", {"allowed": allowed} if allowed else {}
        message = f"{loc[-1]!r} is not known here" + (
            f"; allowed: {', '.join(allowed)}" if allowed else ""
        )
    elif kind in _WRONG_TYPE:
        code, params = "wrong-type", {"expected": _WRONG_TYPE[kind]}
        message = _SAID[_WRONG_TYPE[kind]]
        if isinstance(given, str | int | float | bool) or given is None:
            message += f" (given: {_shown(given)})"
    elif kind in _BOUNDS:
        bound, key, words = _BOUNDS[kind]
        code, params = "out-of-range", {"bound": bound, "limit": str(ctx.get(key))}
        message = f"must be {words} {ctx.get(key)} (given: {_shown(given)})"
    elif kind in ("literal_error", "enum"):
        allowed = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        code, params = "not-in-enum", {"value": given, "allowed": allowed}
        message = f"{_shown(given)} is not one of: {', '.join(allowed)}"
    elif kind in ("string_too_short", "too_short"):
        limit = ctx.get("min_length")
        code, params = "too-short", {"limit": limit}
        what = "character" if kind.startswith("string") else "item"
        message = f"must have at least {limit} {what}{'' if limit == 1 else 's'}"
    elif kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        code, params = "too-long", {"limit": limit}
        what = "character" if kind.startswith("string") else "item"
        message = f"must have at most {limit} {what}{'' if limit == 1 else 's'}"
    elif kind == "string_pattern_mismatch":
        code, params = "pattern-mismatch", {"pattern": ctx.get("pattern")}
        message = f"{_shown(given)} does not match {ctx.get('pattern')}"
    else:  # a check no code above describes: pydantic's own words, never lost
        message = str(error.get("msg", kind))
    item = {"field": where, "code": code, "message": message}
    return {**item, "params": params} if params else item


def unreadable(error: Mapping[str, Any]) -> dict[str, Any]:
    """A body that is not JSON (FastAPI: 'json_invalid' at the character it stopped at)."""
    where = error["loc"][1] if len(error["loc"]) > 1 else None
    why = (error.get("ctx") or {}).get("error", error["msg"])
    at = f" (at character {where})" if isinstance(where, int) and where >= 0 else ""
    said = f"the body is not valid JSON: {why}{at}"
    return FieldError("body", "body-unreadable", said).to_dict()


def not_utf8(body: bytes) -> dict[str, Any] | None:
    """The error of a body that is not UTF-8 text (JSON is), naming the first bad byte."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        said = (f"the body is not UTF-8 text: byte {exc.start + 1} is 0x{body[exc.start]:02x} "
                f"({exc.reason})")  # fmt: skip
        return FieldError("body", "not-utf8", said, {"byte": exc.start + 1}).to_dict()
    return None


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this type as JSON (none given: it does not, under
    FastAPI's ``strict_content_type``, on by default in the version pinned: it keeps a
    cross-site request without a Content-Type from passing as JSON)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route and its dependencies declare, by the name sent."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def unknown_query(sent: Sequence[str], allowed: set[str]) -> list[FieldError]:
    """A query parameter the route does not take is refused, not ignored: a misspelt filter
    (``?stat=approved``) would otherwise answer with everything, unfiltered."""
    said = ", ".join(sorted(allowed)) or "none"
    return [FieldError(name, "unknown-field", f"{name!r} is not a parameter of this path; "
                       f"allowed: {said}", {"allowed": sorted(allowed)})
            for name in dict.fromkeys(sent) if name not in allowed]  # fmt: skip


class StrictRoute(APIRoute):
    """A route of the API that reads its input strictly. Its JSON body
    (``text_input.strict_json``): a key given twice, NaN or Infinity, or a number too large
    for a float is refused as unreadable, as the CLI refuses them in a data file, rather
    than one value chosen silently (FastAPI's pattern for a custom request class). Its
    query: a parameter it does not take is refused (``unknown_query``)."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()
        allowed = _query_names(self.dependant)

        async def strict(request: Request) -> Response:
            if unknown := unknown_query(list(request.query_params.keys()), allowed):
                raise InvalidData(unknown, context="query")
            # the body is read on the request the exception handlers are given (they read it
            # again to say what was wrong), then handed to the strict one
            body, sent = await request.body(), False

            async def receive() -> Message:
                nonlocal sent
                if sent:
                    return await request.receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            response: Response = await handler(_StrictJsonRequest(request.scope, receive))
            return response

        return strict


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = strict_json(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise  # FastAPI's own answers: not JSON at a character; not UTF-8
            except ValueError as exc:  # valid syntax, but not one value: no character to name
                raise json.JSONDecodeError(str(exc), body.decode("utf-8", "replace"),
                                           -1) from exc  # fmt: skip
        return self._json


def api_get(router: APIRouter, path: str, **options: Any) -> Callable[[F], F]:
    """``@router.get`` for an API path on a router that also serves pages: the route is a
    ``StrictRoute`` (a page ignores a query parameter it does not know; a program's
    misspelt filter is refused)."""

    def register(endpoint: F) -> F:
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=StrictRoute,
                             **options)  # fmt: skip
        return endpoint

    return register
