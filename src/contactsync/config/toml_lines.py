"""Find the line of a TOML file on which a key is written.

``tomllib`` gives values without positions, so config errors would otherwise
point nowhere. :func:`key_lines` scans the text once and maps every key path it
defines (``[table]`` headers, ``a.b = ...`` dotted keys, keys inside inline tables
and arrays of inline tables) to the line of its first appearance;
:func:`locate` then finds the nearest defined ancestor of a path, so a missing key
points at its table's header and an unknown path at line 1.

The scanner is deliberately forgiving: it runs on text that may not even be valid
TOML and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

KeyPath = tuple[str, ...]

_TOKEN = re.compile(
    r"""
    (?P<mlstring>\"\"\"(?:\\.|[^\\])*?\"\"\"|'''.*?''')
  | (?P<string>"(?:\\.|[^"\\\n])*"|'[^'\n]*')
  | (?P<comment>\#[^\n]*)
  | (?P<newline>\n)
  | (?P<bare>[A-Za-z0-9_\-]+)
  | (?P<punct>[=.{}\[\],])
  | (?P<space>[ \t\r]+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_HEADER = re.compile(r"[ \t]*\[\[?(?P<keys>[^\]\n]*)\]\]?")
_HEADER_PART = re.compile(
    r"""\s*(?:"(?P<dq>(?:\\.|[^"\\])*)"|'(?P<sq>[^']*)'|(?P<bare>[^."'\s]+))\s*"""
)


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    return token


def split_key(dotted: str) -> KeyPath:
    """Split ``a."b.c".d`` into ``("a", "b.c", "d")``."""
    parts: list[str] = []
    for match in _HEADER_PART.finditer(dotted):
        part = match.group("dq") or match.group("sq") or match.group("bare")
        if part is not None:
            parts.append(part)
    return tuple(parts)


class _Scanner:
    """One pass over the text, recording the first line of every key path."""

    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.nesting: list[KeyPath] = []  # open inline tables / arrays inside a value
        self.nesting_is_table: list[bool] = []
        self.key_parts: list[str] = []
        self.key_line = 0
        self.last_key: KeyPath | None = None
        self.expect_key = True
        self.line = 1

    def _base(self) -> KeyPath:
        return self.nesting[-1] if self.nesting else self.table

    def _record(self, path: KeyPath, line: int) -> None:
        for depth in range(1, len(path) + 1):
            self.lines.setdefault(path[:depth], line)

    def scan(self, text: str) -> dict[KeyPath, int]:
        position = 0
        while position < len(text):
            if self.expect_key and not self.nesting and self._at_line_start(text, position):
                header = _HEADER.match(text, position)
                if header:
                    self.table = split_key(header.group("keys"))
                    self._record(self.table, self.line)
                    position = header.end()
                    self.expect_key = False
                    continue
            match = _TOKEN.match(text, position)
            if match is None:  # pragma: no cover - `other` matches any character
                break
            position = match.end()
            self._feed(match.lastgroup or "other", match.group())
        return self.lines

    @staticmethod
    def _at_line_start(text: str, position: int) -> bool:
        line_start = text.rfind("\n", 0, position) + 1
        return not text[line_start:position].strip()

    def _feed(self, kind: str, token: str) -> None:
        if kind in ("space", "comment"):
            return
        if kind == "newline" or kind == "mlstring":
            self.line += token.count("\n")
            if kind == "newline" and not self.nesting:
                self.expect_key, self.last_key, self.key_parts = True, None, []
            return
        if self.expect_key and kind in ("bare", "string"):
            if not self.key_parts:
                self.key_line = self.line
            self.key_parts.append(_unquote(token))
            return
        if self.expect_key and token == "." and self.key_parts:
            return
        if self.expect_key and token == "=" and self.key_parts:
            path = self._base() + tuple(self.key_parts)
            self._record(path, self.key_line)
            self.last_key, self.key_parts, self.expect_key = path, [], False
            return
        self._feed_value(token)

    def _feed_value(self, token: str) -> None:
        self.key_parts = []
        if token in ("{", "["):
            self.nesting.append(self.last_key if self.last_key is not None else self._base())
            self.nesting_is_table.append(token == "{")
            self.last_key = None
            self.expect_key = token == "{"
        elif token in ("}", "]"):
            if self.nesting:
                self.nesting.pop()
                self.nesting_is_table.pop()
            self.last_key, self.expect_key = None, False
        elif token == ",":
            self.last_key = None
            self.expect_key = bool(self.nesting_is_table) and self.nesting_is_table[-1]
        else:
            self.expect_key = False


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path defined in ``text`` to the (1-based) line it first appears on."""
    return _Scanner().scan(text)


def locate(lines: dict[KeyPath, int], path: Sequence[str | int]) -> int:
    """The line of ``path``, else of its nearest written ancestor, else 1.

    Integer parts (list indexes) are skipped: an item of an inline array is on the
    line of its key.
    """
    keys = tuple(part for part in path if isinstance(part, str))
    for depth in range(len(keys), 0, -1):
        line = lines.get(keys[:depth])
        if line is not None:
            return line
    return 1


def dotted(path: Iterable[str | int]) -> str:
    """``("systems", "trackops", "page_size")`` -> ``systems.trackops.page_size``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
