"""Near matches of emails and phone numbers (two different values that may be one).

* Emails: one edit of a letter in the local part at the same domain
  (``jonh.smith@x.com``; an added dot or another digit is another address), up
  to two in the domain with the same local part (``gmial.com``), the same local part
  at another domain, and masked values (``j***@x.com``, ``jo**th@x.com``: what is
  shown must fit the other address, at the same domain).
* Phones (E.164): one digit off or two neighbours swapped in the same length, or one
  number being the other with an extension or extra digits appended.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz.distance import OSA

if TYPE_CHECKING:
    from contactsync.matching.normalise import Features

MASK = "*"
# Local parts shorter than this are too common for a near match to mean anything.
MIN_LOCAL = 4
# Digits two numbers must share from the start before extra digits count as an extension.
MIN_PHONE_DIGITS = 10


@lru_cache(maxsize=65536)
def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def _fits_mask(masked: str, other: str) -> bool:
    """Whether ``other`` could be what ``masked`` hides (the shown start and end fit)."""
    head, _, rest = masked.partition(MASK)
    tail = rest.rpartition(MASK)[2] if MASK in rest else rest
    if not head or MASK in other:
        return False
    return len(other) >= len(head) + len(tail) and other.startswith(head) and other.endswith(tail)


def _letters(local: str) -> str:
    return "".join(ch for ch in local if ch.isalpha())


def email_level(first: str, second: str) -> str:
    """``typo``, ``local``, ``masked`` or ``differ`` for two different personal emails."""
    local_a, domain_a = _split(first)
    local_b, domain_b = _split(second)
    if MASK in local_a or MASK in local_b:
        if domain_a == domain_b and (
            _fits_mask(local_a, local_b) if MASK in local_a else _fits_mask(local_b, local_a)
        ):
            return "masked"
        return "differ"
    shorter = min(len(local_a), len(local_b))
    if shorter < MIN_LOCAL:
        return "differ"
    if domain_a == domain_b:
        if _letters(local_a) == _letters(local_b):
            # Only separators or digits differ (jeffreycooper / jeffrey.cooper, ann.lee1 /
            # ann.lee2): how a mail domain tells two people of one name apart.
            return "differ"
        return "typo" if OSA.distance(local_a, local_b, score_cutoff=1) <= 1 else "differ"
    if local_a == local_b:
        close = OSA.distance(domain_a, domain_b, score_cutoff=2) <= 2
        return "typo" if close else "local"
    return "differ"


def name_made(local: str, holder: Features) -> bool:
    """Whether an email's local part is only the holder's name: its words (first name,
    nickname and the names it is short for, middle, last and maiden names) and initials,
    in any order (``nwilson``, ``wilson.nicholas``, ``jw``; ``lawrence.nelson`` for a
    Larry Nelson). Such a local part is shared by everyone of that name."""
    rest = _letters(local)
    words = {
        *holder.first_alts,
        *holder.first_roots,
        holder.first,
        holder.middle,
        holder.last,
        holder.maiden,
        *holder.last_words,
    }
    for word in sorted((w for w in words if len(w) > 1), key=len, reverse=True):
        rest = rest.replace(word, "", 1)
    initials = {w[:1] for w in (holder.first, holder.middle, holder.last) if w}
    return len(rest) <= 2 and all(ch in initials for ch in rest)


def phones_near(first: str, second: str) -> bool:
    """One digit off, two neighbours swapped, or an extension / extra digits appended."""
    if len(first) == len(second):
        return OSA.distance(first, second, score_cutoff=1) <= 1
    shorter, longer = sorted((first, second), key=len)
    return len(shorter) >= MIN_PHONE_DIGITS and longer.startswith(shorter)
