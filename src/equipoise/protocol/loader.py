"""Load a protocol file: YAML -> model -> cross-field checks, with every problem located by file and line."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from equipoise.protocol.checks import check_protocol
from equipoise.protocol.model import Protocol
from equipoise.protocol.problems import InvalidProtocolError, Path, Problem, Severity
from equipoise.protocol.yaml_source import YamlDocument, parse_yaml
from equipoise.user_files import MAX_PROTOCOL_BYTES, UnreadableFileError, read_user_text


@dataclass(frozen=True)
class ValidationReport:
    """The result of validating one protocol file."""

    file: str
    protocol: Protocol | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return self.protocol is not None and not self.errors

    def __str__(self) -> str:
        head = f"{self.file}: valid" if self.valid else f"{self.file}: {len(self.errors)} problem(s)"
        return "\n".join([head, *(str(p) for p in self.problems)])

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "valid": self.valid, "problems": [p.to_dict() for p in self.problems]}


def validate_text(text: str, filename: str) -> ValidationReport:
    """Validate protocol YAML text; never raises for bad input."""
    doc, problems = parse_yaml(text, filename)
    if doc is None:
        return ValidationReport(filename, None, problems)
    if not isinstance(doc.data, dict):
        problems.append(Problem((), "a protocol file must be a mapping of sections (trial, arms, ...)",
                                file=filename, line=1))
        return ValidationReport(filename, None, problems)
    try:
        protocol = Protocol.model_validate(doc.data)
    except ValidationError as exc:
        problems += [_from_pydantic(error, doc, filename) for error in exc.errors()]
        return ValidationReport(filename, None, _sorted(problems))
    for problem in check_protocol(protocol):
        problems.append(Problem(problem.path, problem.message, problem.severity, filename, doc.line_of(problem.path)))
    valid = not any(p.severity is Severity.ERROR for p in problems)
    return ValidationReport(filename, protocol if valid else None, _sorted(problems))


def validate_file(path: str | FsPath) -> ValidationReport:
    """Validate a protocol file; an unreadable file is a problem too, not an exception."""
    name = str(path)
    try:
        text = read_user_text(path, max_bytes=MAX_PROTOCOL_BYTES)
    except UnreadableFileError as exc:
        return ValidationReport(exc.file, None, [Problem((), exc.reason, file=exc.file, line=exc.line)])
    return validate_text(text, name)


def load_protocol(path: str | FsPath) -> Protocol:
    """The protocol in ``path``; raises InvalidProtocolError (a UserError) listing every problem."""
    report = validate_file(path)
    if report.protocol is None:
        raise InvalidProtocolError(report.problems)
    return report.protocol


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


# --- pydantic errors -> problems -----------------------------------------------------------------------


def _from_pydantic(error: ErrorDetails, doc: YamlDocument, filename: str) -> Problem:
    path, model = _data_path(tuple(error["loc"]), doc.data)
    return Problem(path, _message(error, model, path), file=filename, line=doc.line_of(path))


def _data_path(loc: tuple[int | str, ...], data: Any) -> tuple[Path, type[BaseModel] | None]:
    """Drop pydantic's union tags from ``loc`` so the path names keys that exist in the file.

    Also returns the model class that owns the last key (for "did you mean" suggestions).
    """
    path: list[str | int] = []
    node: Any = data
    model: type[BaseModel] | None = Protocol
    annotation: Any = Protocol
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not present and not last:
            annotation = _union_member(annotation, part)  # a tag such as 'add-arm' or 'str'
            continue
        path.append(part)
        owner = _as_model(annotation)
        if owner is not None:
            model = owner
        annotation = _child_annotation(annotation, part)
        node = node[part] if present else None
    return tuple(path), model


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for member in _unwrap(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _child_annotation(annotation: Any, part: int | str) -> Any:
    for member in _unwrap(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            info = member.model_fields.get(part)
            if info is not None:
                return info.annotation
        origin = typing.get_origin(member)
        if origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
        if origin is dict:
            return typing.get_args(member)[1]
    return None


def _union_member(annotation: Any, tag: int | str) -> Any:
    for member in _unwrap(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            change = member.model_fields.get("change")
            if change is not None and tag in typing.get_args(change.annotation):
                return member
    return annotation


def _message(error: ErrorDetails, model: type[BaseModel] | None, path: Path) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    key = path[-1] if path else ""
    if kind == "extra_forbidden":
        known = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(known)})" if known else ""
        return f"unknown key '{key}'{hint}"
    if kind == "missing":
        return "required field is missing"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {bounds[kind]} {limit} (got {error['input']!r})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')} (got {error['input']!r})"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')} (got {error['input']!r})"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} does not have the expected form ({_pattern_hint(str(ctx.get('pattern')))})"
    if kind == "union_tag_invalid":
        name = str(ctx.get("discriminator")).strip("'")
        return f"unknown {name} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"needs a key '{str(ctx.get('discriminator')).strip(chr(39))}'"
    if kind in ("too_short", "too_long"):
        return f"{error['msg'].replace('List', 'list').replace('Value', 'value')}"
    if kind == "string_type" and isinstance(error["input"], int | float) and not isinstance(error["input"], bool):
        return f"must be text; put quotes around {error['input']!r} (e.g. \"{error['input']}\")"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = error["msg"]
    if message.startswith("Input should be"):
        message = "must be" + message[len("Input should be"):]
    return f"{message} (got {_short(error['input'])})"


def _pattern_hint(pattern: str) -> str:
    hints = {
        r"^[A-Za-z][A-Za-z0-9_\-]*$": "a letter, then letters, digits, _ or -",
        "^[A-Z]{2}$": "two capital letters, e.g. GB",
        "^[A-Z0-9]{1,8}$": "1 to 8 capital letters or digits",
    }
    return hints.get(pattern, f"pattern {pattern}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
