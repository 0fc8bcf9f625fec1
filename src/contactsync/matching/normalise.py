"""Normalisation: a ``Contact`` turned into the comparable features the matcher uses.

* text is cleaned first (NFKC, zero-width characters dropped, look-alike letters
  of other alphabets folded: :mod:`contactsync.matching.unicode`), then
  unicode-folded (``Müller`` -> ``muller``, ``Ørsted`` -> ``orsted``,
  ``Straße`` -> ``strasse``), lower-cased, punctuation dropped;
* emails are trimmed, cleaned the same way and case-folded;
* phones are E.164 (the model parsed them with the configured default region);
  :func:`normalise_phone` does the same for raw text;
* names: a name given only as ``full_name`` is parsed (``nameparser``); a first
  name's nickname roots come from :mod:`contactsync.matching.nicknames`; a one-letter
  first name (``J.``) is an initial; the maiden name is kept beside the last name;
* street lines have their abbreviations expanded (``St.`` -> ``street``);
* organization names lose their legal form (``Acme Corp.`` -> ``acme``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from contactsync.matching.nicknames import name_roots
from contactsync.matching.unicode import clean_text
from contactsync.model.contact import Contact, PhoneType, normalize_phone

_FOLDS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "Þ": "TH",
        "\u0131": "i",  # dotless i
        "'": "",
        "\u2019": "",  # right single quotation mark
        "`": "",
    }
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")

# Local parts of addresses that belong to a role or a team, never to one person.
ROLE_MAILBOXES = frozenset(
    (
        "info",
        "support",
        "office",
        "contact",
        "hello",
        "help",
        "helpdesk",
        "servicedesk",
        "service",
        "admin",
        "sales",
        "team",
        "billing",
        "accounts",
        "accounting",
        "finance",
        "hr",
        "jobs",
        "careers",
        "marketing",
        "press",
        "media",
        "enquiries",
        "inquiries",
        "reception",
        "mail",
        "post",
        "noreply",
        "no-reply",
        "donotreply",
        "webmaster",
        "postmaster",
        "hostmaster",
        "orders",
        "customerservice",
        "customercare",
        "feedback",
        "general",
        "booking",
        "bookings",
        "invoices",
    )
)

STREET_WORDS: dict[str, str] = {
    "st": "street",
    "str": "strasse",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "blvd": "boulevard",
    "cres": "crescent",
    "pl": "place",
    "sq": "square",
    "tce": "terrace",
    "pde": "parade",
    "hwy": "highway",
    "cl": "close",
    "gdns": "gardens",
    "cir": "circuit",
    "pkwy": "parkway",
}

LEGAL_FORMS = frozenset(
    (
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "pty",
        "gmbh",
        "ag",
        "kg",
        "ug",
        "ev",
        "bv",
        "nv",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "sl",
        "ab",
        "oy",
        "as",
        "asa",
        "aps",
        "kk",
        "group",
        "holding",
        "holdings",
    )
)


def fold(text: str | None) -> str:
    """Unicode-folded, lower-case words separated by single spaces; ``""`` for nothing."""
    if not text:
        return ""
    return _fold(text)


@lru_cache(maxsize=262144)
def _fold(text: str) -> str:
    text = clean_text(text).translate(_FOLDS)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", text.lower()).strip()


def compact(text: str | None) -> str:
    """:func:`fold` without the spaces: ``van den Berg`` -> ``vandenberg``."""
    if not text:
        return ""
    return _fold(text).replace(" ", "")


def normalise_email(address: str | None) -> str:
    """Trimmed, cleaned (see :mod:`contactsync.matching.unicode`: zero-width characters
    and look-alike letters) and case-folded; ``""`` for nothing."""
    return clean_text((address or "").strip()).casefold()


def is_role_mailbox(address: str) -> bool:
    """``info@``, ``support@`` ...: a mailbox that a team or a household shares."""
    local = address.partition("@")[0]
    return local.replace(".", "").replace("_", "") in ROLE_MAILBOXES or local in ROLE_MAILBOXES


def normalise_phone(text: str | None, default_region: str) -> str:
    """E.164 for a phone number as anyone typed it, ``""`` when it is not a phone number."""
    if not text or not text.strip():
        return ""
    try:
        return normalize_phone(text, default_region)[0]
    except ValueError:
        return ""


@lru_cache(maxsize=262144)
def normalise_street(line: str | None) -> str:
    """A street line, abbreviations expanded, compacted: ``12 Maple St.`` -> ``12maplestreet``."""
    words = fold(line).split()
    return "".join(_street_word(word) for word in words)


def _street_word(word: str) -> str:
    if word in STREET_WORDS:
        return STREET_WORDS[word]
    if len(word) > 4 and word.endswith("str"):  # Hauptstr. -> hauptstrasse
        return word[:-3] + "strasse"
    return word


@lru_cache(maxsize=65536)
def normalise_org(name: str | None) -> str:
    """An organization name without its legal form, compacted: ``Acme Corp.`` -> ``acme``."""
    words = [word for word in fold(name).split() if word not in LEGAL_FORMS]
    return "".join(words)


def normalise_code(value: str | None) -> str:
    """Postal codes and reference ids: upper-case letters and digits only."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class NameParts:
    first: str
    middle: str
    last: str


@lru_cache(maxsize=16384)
def _parse_full_name(full_name: str) -> NameParts:
    # Imported here: loading the parser's tables costs 40 ms, and most files and
    # records have their name in parts.
    from nameparser import HumanName

    parsed = HumanName(full_name)
    return NameParts(parsed.first or "", parsed.middle or "", parsed.last or "")


def name_parts(contact: Contact) -> NameParts:
    """First, middle and last name; parsed from ``full_name`` where the parts are missing."""
    first, middle, last = contact.first_name or "", contact.middle_name or "", contact.last_name
    last = last or ""
    if contact.full_name and not (first and last):
        parsed = _parse_full_name(contact.full_name)
        if not first and not last:
            return parsed
        first = first or parsed.first
        last = last or parsed.last
        middle = middle or parsed.middle
    return NameParts(first, middle, last)


@dataclass(slots=True)
class Features:
    """What the matcher compares, for one record (all text folded, see module docs)."""

    first: str  # compact first name; a single letter when only the initial is known
    is_initial: bool
    first_alts: frozenset[str]  # the first name, its first word and the record's nickname
    first_roots: frozenset[str]  # nickname roots of first_alts
    middle: str
    last: str  # compact last name
    last_words: tuple[str, ...]
    maiden: str
    emails: frozenset[str]
    personal_emails: frozenset[str]  # not a role mailbox, nor the organization's own address
    mobiles: frozenset[str]  # E.164 numbers typed mobile
    phones: frozenset[str]  # every E.164 number (mobiles too)
    org: str
    street: str
    house_number: str
    postal: str
    city: str
    country: str
    birthday: date | None
    reference: str
    sync_id: str

    @property
    def initial(self) -> str:
        return self.first[:1]


def features(contact: Contact) -> Features:
    """The matcher's view of one contact."""
    parts = name_parts(contact)
    first_words = fold(parts.first).split()
    first = "".join(first_words)
    alts = {first, first_words[0]} if first_words else set()
    nickname = compact(contact.nickname)
    if nickname:
        alts.add(nickname)
    roots: set[str] = set()
    for alt in alts:
        roots |= name_roots(alt)
    last_words = tuple(fold(parts.last).split())
    emails = frozenset(normalise_email(e.address) for e in contact.emails if e.address)
    phones = frozenset(p.number for p in contact.phones if p.number)
    mobiles = frozenset(p.number for p in contact.phones if p.type is PhoneType.MOBILE)
    org = contact.organization
    org_mailboxes = {normalise_email(c.email) for c in (org.channels if org else ()) if c.email}
    address = contact.address
    street = normalise_street(address.lines[0]) if address and address.lines else ""
    return Features(
        first=first,
        is_initial=len(first) == 1,
        first_alts=frozenset(alts),
        first_roots=frozenset(roots),
        middle=compact(parts.middle),
        last="".join(last_words),
        last_words=last_words,
        maiden=compact(contact.maiden_name),
        emails=emails,
        personal_emails=frozenset(
            e for e in emails if e not in org_mailboxes and not is_role_mailbox(e)
        ),
        mobiles=mobiles,
        phones=phones,
        org=normalise_org(org.name) if org else "",
        street=street,
        house_number="".join(ch for ch in street[:8] if ch.isdigit()),
        postal=normalise_code(address.postal_code) if address else "",
        city=compact(address.city) if address else "",
        country=(address.country or "") if address else "",
        birthday=contact.birthday,
        reference=normalise_code(contact.reference),
        sync_id=contact.sync_id or "",
    )
