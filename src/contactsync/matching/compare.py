"""The comparison vector of a pair: one level per field, from all the evidence two records hold.

Fields and their levels (level 0 is always ``missing``: one side has nothing to say):

=========  ===============================================================================
first      exact, nickname, typo, initial, middle (goes by the middle name), phonetic
           (same metaphone code), similar (Jaro-Winkler >= 0.9), differ
last       exact, maiden, part (of a double name), typo, phonetic, similar, differ
middle     agree (an initial counts), differ
email      same (a personal address), typo (one edit in the local part, or up to two in
           the domain), local (the same local part at another domain), masked
           (``j***@x.com`` fits the other), role (only role or shared mailboxes agree),
           differ
phone      mobile, landline (any other personal number), near (one digit off or two
           swapped, or one number the other with an extension or extra digits), shared,
           differ
reference  same, typo (one edit, a swap of neighbours counts as one), near (two edits),
           differ
birthday   same, near (one digit, or day and month swapped), differ
street     same (the first address line), typo (two edits), differ
place      postal (code), city, city_typo, differ
org        same (one name a prefix of the other, legal forms dropped), similar (a typo
           or Jaro-Winkler >= 0.92), differ
=========  ===============================================================================

Levels compared on a value's frequency (``exact`` names, streets, postal codes,
cities, organizations) also return ``-log2(share of that value)``: the term
frequency part of their evidence (see :mod:`contactsync.matching.weights`).
"""

from __future__ import annotations

from collections.abc import Callable

from rapidfuzz.distance import OSA, JaroWinkler

from contactsync.matching.channels import email_level, name_made, phones_near
from contactsync.matching.names import compare_first, compare_last, is_typo, names_crossed
from contactsync.matching.normalise import Features
from contactsync.matching.stats import Frequencies

FIELDS = (
    "first",
    "last",
    "middle",
    "email",
    "phone",
    "reference",
    "birthday",
    "street",
    "place",
    "org",
)
LEVELS: dict[str, tuple[str, ...]] = {
    "first": (
        "missing",
        "exact",
        "nickname",
        "typo",
        "initial",
        "middle",
        "phonetic",
        "similar",
        "differ",
    ),
    "last": ("missing", "exact", "maiden", "part", "typo", "phonetic", "similar", "differ"),
    "middle": ("missing", "agree", "differ"),
    "email": ("missing", "same", "typo", "local", "masked", "role", "differ"),
    "phone": ("missing", "mobile", "landline", "near", "shared", "differ"),
    "reference": ("missing", "same", "typo", "near", "differ"),
    "birthday": ("missing", "same", "near", "differ"),
    "street": ("missing", "same", "typo", "differ"),
    "place": ("missing", "postal", "city", "city_typo", "differ"),
    "org": ("missing", "same", "similar", "differ"),
}
FIRST, LAST, MIDDLE, EMAIL, PHONE, REFERENCE, BIRTHDAY, STREET, PLACE, ORG = range(len(FIELDS))
_LEVEL = {name: {level: i for i, level in enumerate(LEVELS[name])} for name in FIELDS}

# First-name levels that mean two different people (the household rule applies).
# ``similar`` is not one: mostly a mistyped short name (``liam``, ``lim``).
DISAGREEING_FIRST = frozenset({_LEVEL["first"]["differ"]})

SIMILAR_ORG_JW = 0.92
# Reference ids two edits apart are "near" only when at least this long.
NEAR_REFERENCE_LENGTH = 7
# Email levels between two personal addresses, strongest first.
_EMAIL_ORDER = ("typo", "local", "masked", "differ")
_EMAIL_RANK = {level: rank for rank, level in enumerate(_EMAIL_ORDER)}

SharedTest = Callable[[str], bool]
Vector = tuple[int, ...]


def level_index(field: str, level: str) -> int:
    return _LEVEL[field][level]


_FIRST, _LAST, _MIDDLE, _EMAIL, _PHONE, _REFERENCE, _BIRTHDAY, _STREET, _PLACE, _ORG = (
    _LEVEL[name] for name in FIELDS
)


def compare(
    a: Features, b: Features, frequencies: Frequencies, is_shared: SharedTest
) -> tuple[Vector, list[float]]:
    """The pair's level per field, and the term-frequency bits per field (0 where none)."""
    tf = [0.0] * len(FIELDS)
    first, first_name = compare_first(a, b)
    last, last_name = compare_last(a, b)
    names_swapped = False
    if first == "differ" or last == "differ":
        names_swapped, other = names_crossed(a, b)
        if names_swapped:
            first, first_name, last, last_name = "exact", a.first, "exact", a.last
        elif other is not None and _differs(other) < _differs((first, last)):
            first, last = other
            first_name, last_name = b.first, b.last
    surprise = frequencies.surprise
    if first == "exact":
        tf[FIRST] = surprise("first", first_name)
    if last == "exact" or last == "maiden":
        tf[LAST] = surprise("last", last_name)
    if names_swapped:
        # Swapped: which record has its names the wrong way round is unknown, so each
        # name weighs as the more common of its two readings.
        tf[FIRST] = min(tf[FIRST], surprise("first", b.first))
        tf[LAST] = min(tf[LAST], surprise("last", b.last))
    middle = "missing"
    if a.middle and b.middle and first != "middle":
        agree = a.middle == b.middle or (
            (len(a.middle) == 1 or len(b.middle) == 1) and a.middle[0] == b.middle[0]
        )
        middle = "agree" if agree else "differ"
    street = _street(a, b, frequencies, tf)
    place = _place(a, b, frequencies, tf)
    org = "missing"
    if a.org and b.org:
        if a.org == b.org or a.org.startswith(b.org) or b.org.startswith(a.org):
            org = "same"
            tf[ORG] = surprise("org", a.org if len(a.org) <= len(b.org) else b.org)
        elif is_typo(a.org, b.org) or JaroWinkler.similarity(a.org, b.org) >= SIMILAR_ORG_JW:
            org = "similar"
        else:
            org = "differ"
    levels = (
        _FIRST[first],
        _LAST[last],
        _MIDDLE[middle],
        _EMAIL[_email(a, b, is_shared)],
        _PHONE[_phone(a, b, is_shared)],
        _REFERENCE[_reference(a, b)],
        _BIRTHDAY[_birthday(a, b)],
        _STREET[street],
        _PLACE[place],
        _ORG[org],
    )
    return levels, tf


def _differs(levels: tuple[str, str]) -> int:
    return sum(level == "differ" for level in levels)


def _email(a: Features, b: Features, is_shared: SharedTest) -> str:
    if not a.emails or not b.emails:
        return "missing"
    if not a.emails.isdisjoint(b.emails):
        common = a.emails & b.emails
        personal = common & a.personal_emails & b.personal_emails
        if any(not is_shared(value) for value in personal):
            return "same"
        return "role"
    mine = [e for e in a.personal_emails if not is_shared(e)]
    theirs = [e for e in b.personal_emails if not is_shared(e)]
    if not mine or not theirs:
        return "missing"
    best = min(_EMAIL_RANK[_personal_email_level(x, y, a, b)] for x in mine for y in theirs)
    return _EMAIL_ORDER[best]


def _personal_email_level(x: str, y: str, a: Features, b: Features) -> str:
    level = email_level(x, y)
    if level == "local":
        # The same local part at another domain says "same person" only when it is not
        # just the name (nwilson@example.com, nwilson@example.org: two Nick Wilsons at
        # two providers); it would count the name agreement twice. Either holder's name
        # decides: one record may carry a nickname or a typo (Larry Nelson and Lawrence
        # Nelson at lawrence.nelson@...).
        local = x.rpartition("@")[0]
        if name_made(local, a) or name_made(local, b):
            return "differ"
    return level


def _phone(a: Features, b: Features, is_shared: SharedTest) -> str:
    if not a.phones or not b.phones:
        return "missing"
    if a.phones.isdisjoint(b.phones):
        mine = [n for n in a.phones if not is_shared(n)]
        theirs = [n for n in b.phones if not is_shared(n)]
        if any(phones_near(x, y) for x in mine for y in theirs):
            return "near"
        return "differ"
    common = a.phones & b.phones
    personal = [number for number in common if not is_shared(number)]
    if not personal:
        return "shared"
    if any(number in a.mobiles or number in b.mobiles for number in personal):
        return "mobile"
    return "landline"


def _reference(a: Features, b: Features) -> str:
    if not a.reference or not b.reference:
        return "missing"
    if a.reference == b.reference:
        return "same"
    shorter = min(len(a.reference), len(b.reference))
    edits = OSA.distance(a.reference, b.reference, score_cutoff=2)
    if shorter >= 5 and edits <= 1:
        return "typo"
    if shorter >= NEAR_REFERENCE_LENGTH and edits <= 2:
        return "near"
    return "differ"


def _birthday(a: Features, b: Features) -> str:
    if a.birthday is None or b.birthday is None:
        return "missing"
    if a.birthday == b.birthday:
        return "same"
    first, second = a.birthday.isoformat(), b.birthday.isoformat()
    swapped_day_month = first[:4] == second[:4] and first[5:7] == second[8:10]
    if (swapped_day_month and first[8:10] == second[5:7]) or OSA.distance(first, second) <= 1:
        return "near"
    return "differ"


def _street(a: Features, b: Features, frequencies: Frequencies, tf: list[float]) -> str:
    if not a.street or not b.street:
        return "missing"
    if a.street == b.street:
        tf[STREET] = frequencies.surprise("street", a.street)
        return "same"
    long_enough = min(len(a.street), len(b.street)) >= 8
    if long_enough and OSA.distance(a.street, b.street, score_cutoff=2) <= 2:
        return "typo"
    return "differ"


def _place(a: Features, b: Features, frequencies: Frequencies, tf: list[float]) -> str:
    if a.postal and a.postal == b.postal:
        tf[PLACE] = frequencies.surprise("postal", a.postal)
        return "postal"
    if a.city and a.city == b.city:
        tf[PLACE] = frequencies.surprise("city", a.city)
        return "city"
    if a.city and b.city and is_typo(a.city, b.city):
        return "city_typo"
    if (a.city or a.postal) and (b.city or b.postal):
        return "differ"
    return "missing"
