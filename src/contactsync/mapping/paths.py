"""Vendor field paths: parse, read from a vendor record, write into a vendor payload.

A path is dotted segments, each a key optionally followed by brackets::

    first_name                              a top-level key
    dates.updated                           a nested object
    emails[0]                               an element of a list by position
    external_ids[label=contactsync].external_id
                                            the element of a list of objects whose
                                            ``label`` equals ``contactsync``

Reading never fails on absence: a missing key, a ``null`` or an index past the end
is :data:`MISSING`. It fails (``PathTypeError``) only when the record has the wrong
shape, e.g. a string where the path needs an object. Writing builds the nested
shape as it goes; a selector step finds the matching element or appends one with
the selector's key already set, so ``external_ids[label=contactsync].external_id``
writes ``{"external_ids": [{"label": "contactsync", "external_id": ...}]}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final


class _Missing:
    """The value of a path that is not in the record."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class PathSyntaxError(ValueError):
    """A path string that does not follow the grammar above."""


class PathTypeError(ValueError):
    """The record's shape does not fit the path (e.g. a string where an object is needed)."""


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    position: int


@dataclass(frozen=True)
class Select:
    key: str
    value: str


Step = Key | Index | Select

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_SEGMENT_RE = re.compile(rf"^(?P<name>{_NAME})(?P<brackets>(\[[^\[\]]*\])*)$")
_BRACKET_RE = re.compile(r"\[([^\[\]]*)\]")
_SELECT_RE = re.compile(rf"^\s*(?P<key>{_NAME})\s*=\s*(?P<value>[^\[\]]*?)\s*$")


def parse_path(text: str) -> tuple[Step, ...]:
    """Parse a vendor path; raises ``PathSyntaxError`` naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise PathSyntaxError("a field path must be a non-empty string")
    steps: list[Step] = []
    for segment in text.strip().split("."):
        match = _SEGMENT_RE.match(segment)
        if match is None:
            raise PathSyntaxError(f"bad path segment {segment!r} in {text!r}")
        steps.append(Key(match["name"]))
        for inner in _BRACKET_RE.findall(match["brackets"]):
            steps.append(_parse_bracket(inner, text))
    return tuple(steps)


def _parse_bracket(inner: str, text: str) -> Step:
    if inner.strip().isdigit():
        return Index(int(inner))
    selector = _SELECT_RE.match(inner)
    if selector is None or not selector["value"]:
        raise PathSyntaxError(f"bad bracket [{inner}] in {text!r}: use [N] or [key=value]")
    return Select(selector["key"], selector["value"].strip("\"'"))


def format_path(steps: tuple[Step, ...]) -> str:
    """The path's text form (inverse of :func:`parse_path`)."""
    text = ""
    for step in steps:
        if isinstance(step, Key):
            text += f".{step.name}" if text else step.name
        elif isinstance(step, Index):
            text += f"[{step.position}]"
        else:
            text += f"[{step.key}={step.value}]"
    return text


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _where(steps: tuple[Step, ...], upto: int) -> str:
    return format_path(steps[:upto]) or "(record)"


def _matches(element: Any, select: Select) -> bool:
    if not isinstance(element, dict) or select.key not in element:
        return False
    found = element[select.key]
    if isinstance(found, bool):
        found = "true" if found else "false"
    return str(found) == select.value


def read_path(record: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` in ``record``, :data:`MISSING` when absent or null.

    A selector step tries each matching element in turn and returns the first whose
    remaining path holds a value (so ``contacts[label=work].telephone`` skips a
    ``work`` entry that carries an email instead).
    """
    node = record
    for at, step in enumerate(steps):  # plain keys (most paths) without recursion
        if node is None:
            return MISSING
        if type(step) is not Key or not isinstance(node, dict):
            return _read(node, steps, at)
        if step.name not in node:
            return MISSING
        node = node[step.name]
    return MISSING if node is None else node


def _read(node: Any, steps: tuple[Step, ...], at: int) -> Any:
    if node is None:
        return MISSING
    if at == len(steps):
        return node
    step = steps[at]
    if isinstance(step, Key):
        if not isinstance(node, dict):
            raise PathTypeError(
                f"expected an object at {_where(steps, at)}, got {_type_name(node)}"
            )
        return _read(node.get(step.name), steps, at + 1) if step.name in node else MISSING
    if not isinstance(node, list):
        raise PathTypeError(f"expected a list at {_where(steps, at)}, got {_type_name(node)}")
    if isinstance(step, Index):
        return _read(node[step.position], steps, at + 1) if step.position < len(node) else MISSING
    for element in node:
        if _matches(element, step):
            found = _read(element, steps, at + 1)
            if found is not MISSING:
                return found
    return MISSING


def write_path(payload: dict[str, Any], steps: tuple[Step, ...], value: Any) -> None:
    """Set ``value`` at ``steps`` in ``payload``, creating objects and lists on the way.

    Raises ``PathTypeError`` when ``payload`` already holds something of another shape
    at that place (two rules disagreeing about the vendor's shape).
    """
    if not steps or not isinstance(steps[0], Key):
        raise PathSyntaxError("a path must start with a key")
    node: Any = payload
    for at, step in enumerate(steps):
        last = at == len(steps) - 1
        upcoming = None if last else steps[at + 1]
        fresh: Any = [] if isinstance(upcoming, Index | Select) else {}
        if isinstance(step, Key):
            if not isinstance(node, dict):
                raise PathTypeError(f"cannot write into {_where(steps, at)}: not an object")
            if last:
                node[step.name] = value
                return
            node = node.setdefault(step.name, fresh)
        elif isinstance(step, Index):
            if not isinstance(node, list):
                raise PathTypeError(f"cannot write into {_where(steps, at)}: not a list")
            while len(node) <= step.position:
                node.append(None)
            if last:
                node[step.position] = value
                return
            if node[step.position] is None:
                node[step.position] = fresh
            node = node[step.position]
        else:
            if not isinstance(node, list):
                raise PathTypeError(f"cannot write into {_where(steps, at)}: not a list")
            element = next((item for item in node if _matches(item, step)), None)
            if element is None:
                element = {step.key: step.value}
                node.append(element)
            if last:
                raise PathSyntaxError("a path cannot end with a [key=value] selector")
            node = element
        if not isinstance(node, dict | list):
            raise PathTypeError(f"cannot write below {_where(steps, at + 1)}: it holds a value")
