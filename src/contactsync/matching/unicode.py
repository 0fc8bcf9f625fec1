"""Unicode clean-up before folding: compatibility forms, invisible characters, look-alikes.

* NFKC: full-width and other compatibility forms become their plain letters
  (full-width ``J`` U+FF2A -> ``J``, the ligature U+FB01 -> ``fi``).
* Invisible format characters (Unicode category ``Cf``: zero-width space, joiner and
  non-joiner, word joiner, byte-order mark, soft hyphen) are removed: ``jo\\u200bhn``
  is ``john``.
* Look-alike letters from other alphabets (Cyrillic a, e, o, p, c, y, x, Greek
  omicron, alpha, nu ...) are folded to the Latin letter they imitate, in a word that also holds
  Latin letters (a spoofed or mistyped Latin word). A word written wholly in another
  script is left as it is: it is a name in that script, not a look-alike. The table
  is the small set of letters Unicode's confusables list maps to one Latin letter.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Cyrillic and Greek letters that look like one Latin letter (after Unicode's
# confusables.txt, restricted to single-letter look-alikes), by Unicode name.
_LOOK_ALIKE_NAMES = {
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER VE": "b",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER IO": "e",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER YI": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER KA": "k",
    "CYRILLIC SMALL LETTER EM": "m",
    "CYRILLIC SMALL LETTER EN": "h",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER TE": "t",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER QA": "q",
    "CYRILLIC SMALL LETTER WE": "w",
    "LATIN SMALL LETTER SCRIPT G": "g",
    "CYRILLIC CAPITAL LETTER A": "A",
    "CYRILLIC CAPITAL LETTER VE": "B",
    "CYRILLIC CAPITAL LETTER IE": "E",
    "CYRILLIC CAPITAL LETTER IO": "E",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "I",
    "CYRILLIC CAPITAL LETTER JE": "J",
    "CYRILLIC CAPITAL LETTER KA": "K",
    "CYRILLIC CAPITAL LETTER EM": "M",
    "CYRILLIC CAPITAL LETTER EN": "H",
    "CYRILLIC CAPITAL LETTER O": "O",
    "CYRILLIC CAPITAL LETTER ER": "P",
    "CYRILLIC CAPITAL LETTER ES": "C",
    "CYRILLIC CAPITAL LETTER DZE": "S",
    "CYRILLIC CAPITAL LETTER TE": "T",
    "CYRILLIC CAPITAL LETTER U": "Y",
    "CYRILLIC CAPITAL LETTER HA": "X",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER EPSILON": "e",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER KAPPA": "k",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK SMALL LETTER TAU": "t",
    "GREEK SMALL LETTER UPSILON": "u",
    "GREEK SMALL LETTER CHI": "x",
    "GREEK CAPITAL LETTER ALPHA": "A",
    "GREEK CAPITAL LETTER BETA": "B",
    "GREEK CAPITAL LETTER EPSILON": "E",
    "GREEK CAPITAL LETTER ETA": "H",
    "GREEK CAPITAL LETTER IOTA": "I",
    "GREEK CAPITAL LETTER KAPPA": "K",
    "GREEK CAPITAL LETTER MU": "M",
    "GREEK CAPITAL LETTER NU": "N",
    "GREEK CAPITAL LETTER OMICRON": "O",
    "GREEK CAPITAL LETTER RHO": "P",
    "GREEK CAPITAL LETTER TAU": "T",
    "GREEK CAPITAL LETTER UPSILON": "Y",
    "GREEK CAPITAL LETTER CHI": "X",
    "GREEK CAPITAL LETTER ZETA": "Z",
}
LOOK_ALIKES = str.maketrans(
    {unicodedata.lookup(name): latin for name, latin in _LOOK_ALIKE_NAMES.items()}
)
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")


def _unspoofed(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.isascii() or not _LATIN.search(word):
        return word
    return word.translate(LOOK_ALIKES)


@lru_cache(maxsize=262144)
def clean_text(text: str) -> str:
    """NFKC, without invisible format characters, look-alike letters folded."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _WORD.sub(_unspoofed, text)
