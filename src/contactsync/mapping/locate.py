"""Find the line of a table, an array-of-tables entry or a key in TOML text.

``tomllib`` gives values without positions; mapping problems must point at a line,
so this scans the text for headers (``[enums.status]``, ``[[inbound]]``) and
``key = ...`` lines and remembers where each sits. It understands the layout the
mapping files use (one key per line, headers on their own lines); for anything it
cannot place it answers the nearest enclosing header, or line 1.
"""

from __future__ import annotations

import re

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")
_TRIPLE_QUOTES = ('"""', "'''")


def _header_name(raw: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in raw.split("."))


class TomlLocator:
    """Line numbers (1-based) of sections and keys in one TOML text."""

    def __init__(self, text: str) -> None:
        self._sections: dict[tuple[str, int], int] = {("", 0): 1}
        self._keys: dict[tuple[str, int], dict[str, int]] = {("", 0): {}}
        counts: dict[str, int] = {}
        current: tuple[str, int] = ("", 0)
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                in_multiline = not any(q in line for q in _TRIPLE_QUOTES)
                continue
            header = _ARRAY_HEADER.match(line)
            is_array = header is not None
            if header is None:
                header = _TABLE_HEADER.match(line)
            if header is not None:
                name = _header_name(header[1])
                index = counts.get(name, 0) if is_array else 0
                if is_array:
                    counts[name] = index + 1
                current = (name, index)
                self._sections.setdefault(current, number)
                self._keys.setdefault(current, {})
                continue
            key = _KEY_LINE.match(line)
            if key:
                self._keys[current].setdefault(key[1].strip("\"'"), number)
                rest = line[key.end() :]
                if any(rest.count(q) == 1 for q in _TRIPLE_QUOTES):
                    in_multiline = True

    def section(self, name: str, index: int = 0) -> int:
        """Line of ``[name]`` or of the ``index``-th ``[[name]]`` (1 when not found)."""
        return self._sections.get((name, index), 1)

    def key(self, section: str, index: int, key: str) -> int:
        """Line of ``key`` inside that section, else the section's header line."""
        found = self._keys.get((section, index), {}).get(key)
        return found if found is not None else self.section(section, index)

    def top_key(self, key: str) -> int:
        return self.key("", 0, key)
