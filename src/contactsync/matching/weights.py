"""Weights of evidence: documented defaults, and what a fit on the records replaces.

Every comparison level contributes ``log2(m / u)`` bits (Fellegi-Sunter): *m* is the
chance of that level when the two records are one person, *u* when they are two.

* *u* of a level compared on a value (an ``exact`` name, a street, a postal code, a
  city, an organization) is that value's share of the records (term frequency);
  of every other level it is measured on random pairs of records
  (:func:`estimate_u`), starting from :data:`DEFAULT_U`; of an identifier (an
  email, a phone, a reference id) it is measured too (``identifier_u``, see
  :mod:`contactsync.matching.estimate`), and before any fit it is one in the
  population (four for other phones, thirty for reference ids one edit apart).
* *m* starts from :data:`DEFAULT_M`; the fit re-estimates it (guarded EM, see
  :mod:`contactsync.matching.estimate`).
* The prior is the chance that a record matches one given other record,
  ``matches_per_record / partners``: 1.5 per record over the population before
  fitting, then what the deterministic rules find over the pairs that exist.

``missing`` levels, role mailboxes and shared phones weigh nothing, by design. No
learned value switches a rule on or off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from contactsync.matching.compare import (
    BIRTHDAY,
    DISAGREEING_FIRST,
    EMAIL,
    FIELDS,
    FIRST,
    LAST,
    LEVELS,
    ORG,
    PHONE,
    PLACE,
    REFERENCE,
    STREET,
    Vector,
)
from contactsync.matching.stats import MIN_POPULATION

# m: P(level | one person), over the levels other than missing.
DEFAULT_M: dict[str, dict[str, float]] = {
    "first": {
        "exact": 0.80,
        "nickname": 0.07,
        "typo": 0.04,
        "initial": 0.03,
        "middle": 0.01,
        "phonetic": 0.01,
        "similar": 0.02,
        "differ": 0.03,
    },
    "last": {
        "exact": 0.85,
        "maiden": 0.03,
        "part": 0.01,
        "typo": 0.04,
        "phonetic": 0.01,
        "similar": 0.02,
        "differ": 0.05,
    },
    "middle": {"agree": 0.85, "differ": 0.15},
    "email": {
        "same": 0.6,
        "typo": 0.03,
        "local": 0.02,
        "masked": 0.02,
        "role": 0.05,
        "differ": 0.28,
    },
    "phone": {"mobile": 0.45, "landline": 0.2, "near": 0.03, "shared": 0.05, "differ": 0.27},
    "reference": {"same": 0.93, "typo": 0.03, "near": 0.02, "differ": 0.02},
    "birthday": {"same": 0.92, "near": 0.04, "differ": 0.04},
    "street": {"same": 0.7, "typo": 0.1, "differ": 0.2},
    "place": {"postal": 0.75, "city": 0.1, "city_typo": 0.02, "differ": 0.13},
    "org": {"same": 0.75, "similar": 0.05, "differ": 0.2},
}
# u: P(level | two people) before any data is seen, for levels not listed here: 0.01,
# and 0.97 for "differ".
DEFAULT_U: dict[str, dict[str, float]] = {
    "first": {
        "exact": 0.005,
        "nickname": 0.004,
        "typo": 0.002,
        "initial": 0.004,
        "phonetic": 0.002,
    },
    "last": {"exact": 0.002, "maiden": 0.0001, "part": 0.001, "typo": 0.002, "phonetic": 0.002},
    "middle": {"agree": 0.1, "differ": 0.9},
    "birthday": {"same": 1 / 25000, "near": 0.0005, "differ": 0.99},
    "street": {"same": 0.0005, "typo": 0.0005, "differ": 0.99},
    "place": {"postal": 0.005, "city": 0.02, "city_typo": 0.001, "differ": 0.9},
    "org": {"same": 0.002, "similar": 0.002, "differ": 0.95},
}
# Levels weighed on the value: u = the value's share x this factor.
VALUE_LEVELS: dict[tuple[str, str], float] = {
    ("first", "exact"): 1.0,
    ("last", "exact"): 1.0,
    ("last", "maiden"): 0.03,
    ("street", "same"): 1.0,
    ("place", "postal"): 1.0,
    ("place", "city"): 1.0,
    ("org", "same"): 1.0,
}
# Identifier levels: u = this many / N.
IDENTIFIER_LEVELS: dict[tuple[str, str], float] = {
    ("email", "same"): 1.0,
    ("email", "typo"): 4.0,
    ("email", "local"): 20.0,
    ("email", "masked"): 50.0,
    ("phone", "mobile"): 1.0,
    ("phone", "landline"): 4.0,
    ("phone", "near"): 30.0,
    ("reference", "same"): 1.0,
    ("reference", "typo"): 30.0,
    ("reference", "near"): 300.0,
}
ZERO_LEVELS = frozenset({("email", "role"), ("phone", "shared")})
# Evidence a household or a team shares: void when the first names disagree.
SHAREABLE_FIELDS = frozenset({STREET, PLACE, ORG, FIELDS.index("middle")})
LANDLINE_LEVEL = LEVELS["phone"].index("landline")
FIRST_DIFFER = LEVELS["first"].index("differ")
LAST_AGREEING = frozenset(LEVELS["last"].index(n) for n in ("exact", "maiden", "part", "typo"))
STREET_AGREEING = frozenset(LEVELS["street"].index(n) for n in ("same", "typo"))
PHONE_SHARED = frozenset(LEVELS["phone"].index(n) for n in ("landline", "shared"))
EMAIL_SAME = LEVELS["email"].index("same")
PHONE_MOBILE = LEVELS["phone"].index("mobile")
REFERENCE_SAME = LEVELS["reference"].index("same")
BIRTHDAY_SAME = LEVELS["birthday"].index("same")
# Agreements only one person's records have (a household's members' ids are unrelated).
PERSONAL_EMAIL = frozenset(LEVELS["email"].index(n) for n in ("same", "typo"))
PERSONAL_REFERENCE = frozenset(LEVELS["reference"].index(n) for n in ("same", "typo"))

DEFAULT_MATCHES_PER_RECORD = 1.5
MIN_PARTNERS = 1000
M_FLOOR = 1e-4
U_FLOOR = 1e-9
U_PSEUDO_PAIRS = 200.0  # weight of DEFAULT_U in the random-pair estimate


def default_u(name: str, level: str, log_n: float) -> float:
    """u of a level before any data is seen (identifiers: so many in the population)."""
    identifier = IDENTIFIER_LEVELS.get((name, level))
    if identifier is not None:
        return float(identifier / 2.0**log_n)
    return DEFAULT_U.get(name, {}).get(level, 0.97 if level == "differ" else 0.01)


@dataclass
class Weights:
    """m and u per level, and the expected number of other records of one person."""

    m: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_M.items()}
    )
    u: dict[str, dict[str, float]] = field(default_factory=dict)
    matches_per_record: float = DEFAULT_MATCHES_PER_RECORD
    fitted: bool = False
    # u of identifier levels measured on these records (see matching_estimate); an
    # identifier level not listed here falls back to IDENTIFIER_LEVELS / N.
    identifier_u: dict[tuple[str, str], float] = field(default_factory=dict)
    # The mean number of records each record could be paired with (N - 1 in a
    # deduplication, fewer in a linkage); 0 until measured: the population is used.
    partners: float = 0.0
    prior_measured: bool = False  # matches_per_record found by the deterministic rules
    # Whether a shared birthday is personal evidence in these records even when the first
    # names disagree: measured (matching_estimate.birthday_is_personal), never learned by EM.
    birthday_personal: bool = False

    def u_of(self, name: str, level: str, log_n: float) -> float:
        measured = self.identifier_u.get((name, level))
        if measured is not None:
            return measured
        return self.u.get(name, {}).get(level) or default_u(name, level, log_n)

    def scales_with_population(self, name: str, level: str) -> bool:
        """Whether the level's u is one in the population (an identifier not measured)."""
        return (name, level) in IDENTIFIER_LEVELS and (name, level) not in self.identifier_u

    def level_bits(self, index: int, level_index: int, log_n: float) -> float:
        """Bits of one level in scoring, without its term-frequency part."""
        name = FIELDS[index]
        level = LEVELS[name][level_index]
        if level_index == 0 or (name, level) in ZERO_LEVELS:
            return 0.0
        m = max(self.m[name][level], M_FLOOR)
        if (name, level) in VALUE_LEVELS:
            return math.log2(m / VALUE_LEVELS[(name, level)])
        if self.scales_with_population(name, level):
            return math.log2(m / IDENTIFIER_LEVELS[(name, level)]) + log_n
        return math.log2(m / max(self.u_of(name, level, log_n), U_FLOOR))

    def log_prior(self, log_n: float) -> float:
        """log2 of the chance that a record matches one given other record (the prior).

        Over the pairs that exist (``partners`` per record) once measured, else over
        the population (``log_n``). The partners count as at least MIN_POPULATION
        unless the rules measured the matches (a tiny data set must not make a
        name-only match look certain), and at least MIN_PARTNERS always."""
        if self.partners > 0:
            floor = MIN_PARTNERS if self.prior_measured else MIN_POPULATION
            log_n = math.log2(max(self.partners, floor))
        return math.log2(self.matches_per_record) - log_n

    def household(self, vector: Vector) -> bool:
        """Whether the household rule voids this pair's shareable evidence.

        It holds wherever it applies, except for a shared birthday in records where
        "households" almost always share one (``birthday_personal``): there they are
        one person's records under a changed first name. No EM output switches it."""
        if self.birthday_personal and vector[BIRTHDAY] == BIRTHDAY_SAME:
            return False
        return household_applies(vector)


@dataclass(frozen=True)
class PatternWeight:
    """What a comparison vector weighs, before its term-frequency parts and log2(N) terms."""

    bits: float  # the levels' bits without the identifiers' log2(N)
    identifiers: int  # identifier levels counted (each adds log2(N))
    negative: float  # the sum of the disagreeing levels' bits
    household: bool  # first names disagree: shareable evidence is void
    cannot_link: bool = False  # two members of one household (household_cannot_link)


def household_applies(vector: Vector) -> bool:
    """First names disagree and no personal identifier (a personal email, a mobile, the
    reference id; the email or id one typo apart too) agrees: what a household or a team
    shares must not make them one.
    A birthday is no such identifier: twins share one, and census-style data copies a
    household member's birthday by mistake."""
    return vector[FIRST] in DISAGREEING_FIRST and not (
        vector[EMAIL] in PERSONAL_EMAIL
        or vector[PHONE] == PHONE_MOBILE
        or vector[REFERENCE] in PERSONAL_REFERENCE
    )


def household_cannot_link(vector: Vector) -> bool:
    """Two members of one household: the same last name and an address or a phone in
    common, first names that cannot be one person's, and no personal evidence. They
    must never be one person, whatever else links them."""
    if not household_applies(vector) or vector[FIRST] != FIRST_DIFFER:
        return False
    if vector[LAST] not in LAST_AGREEING:
        return False
    return vector[STREET] in STREET_AGREEING or vector[PHONE] in PHONE_SHARED


def shareable(index: int, level_index: int) -> bool:
    """Whether this level is evidence a household or a team could share."""
    if index == PHONE:
        return level_index == LANDLINE_LEVEL
    return index in SHAREABLE_FIELDS


def pattern_weight(weights: Weights, vector: Vector) -> PatternWeight:
    household = weights.household(vector)
    bits = negative = 0.0
    identifiers = 0
    for index, level_index in enumerate(vector):
        if level_index == 0:
            continue
        value = weights.level_bits(index, level_index, 0.0)
        name = FIELDS[index]
        level = LEVELS[name][level_index]
        is_identifier = (name, level) in IDENTIFIER_LEVELS
        if household and shareable(index, level_index) and (value > 0 or is_identifier):
            continue
        if value < 0 and not is_identifier:
            negative += value
        bits += value
        identifiers += weights.scales_with_population(name, level)
    cannot_link = household and household_cannot_link(vector)
    return PatternWeight(bits, identifiers, negative, household, cannot_link)


def split_tf(tf: list[float]) -> tuple[float, float]:
    """Term-frequency bits of (first + last name, address + organization)."""
    return tf[FIRST] + tf[LAST], tf[STREET] + tf[PLACE] + tf[ORG]


def estimate_u(weights: Weights, vectors: Iterable[Vector], log_n: float) -> None:
    """Measure u of every level on the comparison vectors of random pairs of records.

    A level the sample never met keeps its default: a sample too small to meet it says
    only that u is small, not how small (it must not turn a shared birthday into
    certainty)."""
    counts = [[0] * len(LEVELS[name]) for name in FIELDS]
    for vector in vectors:
        for index, number in enumerate(vector):
            counts[index][number] += 1
    for index, name in enumerate(FIELDS):
        compared = sum(counts[index][1:])
        estimates: dict[str, float] = {}
        for i, level in enumerate(LEVELS[name][1:], start=1):
            default = default_u(name, level, log_n)
            if counts[index][i] == 0:
                estimates[level] = default
            else:
                pseudo = U_PSEUDO_PAIRS * default
                estimates[level] = (counts[index][i] + pseudo) / (compared + U_PSEUDO_PAIRS)
        weights.u[name] = estimates


def pattern_field_bits(weights: Weights, vector: Vector, log_n: float) -> tuple[list[float], bool]:
    """Each field's bits for this vector as scoring counts them (household-voided
    evidence at 0), without term frequencies; and whether the household rule applies."""
    household = weights.household(vector)
    bits = [0.0] * len(FIELDS)
    for index, level_index in enumerate(vector):
        if level_index == 0:
            continue
        value = weights.level_bits(index, level_index, log_n)
        name = FIELDS[index]
        is_identifier = (name, LEVELS[name][level_index]) in IDENTIFIER_LEVELS
        if household and shareable(index, level_index) and (value > 0 or is_identifier):
            continue
        bits[index] = value
    return bits, household
