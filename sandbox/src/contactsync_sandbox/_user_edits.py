"""Edits a person makes to a contact by hand, for the simulators' ``mutate_record``.

Each helper returns the edited value and leaves the record itself alone, so a
simulator decides which of its own fields the edit lands in.
"""

from __future__ import annotations

import random
import re

JOB_TITLES: tuple[str, ...] = (
    "Account Manager",
    "Claims Adjuster",
    "Office Manager",
    "Operations Director",
    "Senior Claims Adjuster",
    "Risk Manager",
    "Project Coordinator",
    "Head of Procurement",
    "Customer Success Lead",
    "Chief Financial Officer",
)

NEW_EMAIL_DOMAINS: tuple[str, ...] = (
    "mail.example.com",
    "newco.example.org",
    "corp.example.net",
    "inbox.example.com",
)

_NANP_FORMATS: tuple[str, ...] = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "+1 {a}-{b}-{c}",
    "+1 ({a}) {b}-{c}",
    "{a}{b}{c}",
)


def new_job_title(current: str | None, rng: random.Random) -> str:
    """A job title different from ``current`` (a promotion, a new role)."""
    return rng.choice([title for title in JOB_TITLES if title != current])


#: an extension written after the number (``x841``, ``ext. 841``): not part of its digits
_EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*(\d{1,6})\s*$", re.IGNORECASE)


def reformat_phone(number: str, rng: random.Random) -> str:
    """The same number written another way (its extension kept as written); a changed
    last digit when no other way exists."""
    extension = _EXTENSION.search(number)
    if extension is not None:
        bare = number[: extension.start()]
        return reformat_phone(bare, rng) + number[extension.start() :]
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        parts = {"a": digits[:3], "b": digits[3:6], "c": digits[6:]}
        options = [f.format(**parts) for f in _NANP_FORMATS]
        options = [option for option in options if option != number]
        return rng.choice(options)
    if len(digits) >= 7:
        grouped = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
        candidate = f"+{grouped}" if not number.startswith("+") else digits
        if candidate != number:
            return candidate
    last = digits[-1:] or "0"
    return f"{number[:-1] if digits else number}{(int(last) + 1) % 10}"


def tidy_name(name: str | None) -> str | None:
    """The name with its spacing and capitals corrected, or None when nothing needs fixing."""
    if not name:
        return None
    collapsed = " ".join(name.split())
    if collapsed.islower() or collapsed.isupper():
        collapsed = collapsed.title()
    return collapsed if collapsed != name else None


def new_email(first: str | None, last: str | None, current: str | None, rng: random.Random) -> str:
    """A new address for the same person (they changed employer or mailbox)."""
    parts = [re.sub(r"[^a-z0-9]", "", (p or "").lower()) for p in (first, last)]
    local = ".".join(p for p in parts if p) or "contact"
    domains = [d for d in NEW_EMAIL_DOMAINS if not (current or "").lower().endswith("@" + d)]
    candidate = f"{local}@{rng.choice(domains)}"
    if current is not None and candidate.lower() == current.lower():
        candidate = f"{local}{rng.randint(2, 99)}@{rng.choice(domains)}"
    return candidate
