"""The small differences between copies of one person: typos, phone formats, email case.

Pure functions of their input and a ``random.Random``; :mod:`contactsync_sandbox.people`
decides when to apply them.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from contactsync_sandbox.names import STREET_ABBREVIATIONS

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _row_index, _row in enumerate(_KEYBOARD_ROWS):
    for _col, _char in enumerate(_row):
        near = [_row[i] for i in (_col - 1, _col + 1) if 0 <= i < len(_row)]
        for other_index in (_row_index - 1, _row_index + 1):
            if 0 <= other_index < len(_KEYBOARD_ROWS):
                other = _KEYBOARD_ROWS[other_index]
                near += [other[i] for i in (_col - 1, _col) if 0 <= i < len(other)]
        _NEIGHBOURS[_char] = "".join(near)

_ASCII_FOLDS = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "ł": "l"})


@dataclass(frozen=True)
class PhoneNumber:
    """A number as country code plus digit groups; each copy shows it in its own format."""

    dial: str
    groups: tuple[str, ...]

    @property
    def e164(self) -> str:
        return "+" + self.dial + "".join(self.groups)

    @property
    def is_nanp(self) -> bool:
        return self.dial == "1"

    def styles(self) -> tuple[str, ...]:
        if self.is_nanp:
            return ("e164", "international", "parentheses", "dashes", "dots", "digits", "one")
        return ("e164", "international", "international_dashes")

    def formatted(self, style: str) -> str:
        """The number written the way a user of one system typed it."""
        if style == "e164":
            return self.e164
        if style == "international":
            if self.is_nanp:
                area, exchange, line = self.groups
                return f"+1 {area}-{exchange}-{line}"
            return f"+{self.dial} " + " ".join(self.groups)
        if style == "international_dashes":
            return f"+{self.dial}-" + "-".join(self.groups)
        if not self.is_nanp:
            raise ValueError(f"phone style {style!r} is for North American numbers only")
        area, exchange, line = self.groups
        national = {
            "parentheses": f"({area}) {exchange}-{line}",
            "dashes": f"{area}-{exchange}-{line}",
            "dots": f"{area}.{exchange}.{line}",
            "digits": f"{area}{exchange}{line}",
            "one": f"1-{area}-{exchange}-{line}",
        }
        if style not in national:
            raise ValueError(f"unknown phone style {style!r}")
        return national[style]

    def any_format(self, rng: random.Random) -> str:
        return self.formatted(rng.choice(self.styles()))


def fill_pattern(pattern: str, rng: random.Random) -> str:
    """``#`` -> a random digit, ``@`` -> a random capital letter, anything else kept."""
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(rng.randrange(10)))
        elif char == "@":
            out.append(chr(ord("A") + rng.randrange(26)))
        else:
            out.append(char)
    return "".join(out)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits: ``O'Brien`` -> ``obrien``, ``Müller`` -> ``muller``."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLDS))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def _match_case(template: str, char: str) -> str:
    return char.upper() if template.isupper() else char


def typo(word: str, rng: random.Random) -> str:
    """One realistic edit (neighbouring key, dropped, doubled or swapped letter), never the
    first letter; words shorter than four letters are returned unchanged."""
    if len(word) < 4:
        return word
    for _ in range(10):
        position = rng.randrange(1, len(word))
        char = word[position]
        operation = rng.choice(("neighbour", "drop", "double", "swap"))
        if operation == "neighbour" and char.lower() in _NEIGHBOURS:
            replacement = _match_case(char, rng.choice(_NEIGHBOURS[char.lower()]))
            candidate = word[:position] + replacement + word[position + 1 :]
        elif operation == "drop":
            candidate = word[:position] + word[position + 1 :]
        elif operation == "double" and char.isalpha():
            candidate = word[:position] + char + word[position:]
        elif operation == "swap" and position + 1 < len(word):
            candidate = word[:position] + word[position + 1] + char + word[position + 2 :]
        else:
            continue
        if candidate != word and candidate[1:].replace(" ", "").replace("-", "").isalpha():
            return candidate
    return word


def email_case(address: str, rng: random.Random) -> str:
    """The same address as some users type it: capitalised parts, upper-case domain ..."""
    local, _, domain = address.partition("@")
    style = rng.choice(("capitalised", "upper", "upper_domain"))
    if style == "upper":
        return address.upper()
    if style == "upper_domain":
        return f"{local}@{domain.upper()}"
    parts = [p[:1].upper() + p[1:] for p in local.split(".")]
    return ".".join(parts) + "@" + domain[:1].upper() + domain[1:]


def email_whitespace(address: str, rng: random.Random) -> str:
    return rng.choice((f" {address}", f"{address} ", f"  {address}  ", f"{address}\t"))


def abbreviate_street(line: str) -> str:
    """``12 Maple Street`` -> ``12 Maple St.``; ``Hauptstraße 5`` -> ``Hauptstr. 5``."""
    for long, short in STREET_ABBREVIATIONS.items():
        if long in line:
            return line.replace(long, short, 1)
    return line


def middle_initial(middle: str) -> str:
    return middle[:1].upper() + "."
