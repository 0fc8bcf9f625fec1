"""Weights of evidence: set and documented defaults, refined from the data without labels.

Every comparison level contributes ``log2(m / u)`` bits (Fellegi-Sunter): *m* is the
chance of that level when the two records are one person, *u* when they are two.

* *u* of a level compared on a value (an ``exact`` name, a street, a postal code, a
  city, an organization) is that value's share of the records (term frequency);
  of an identifier (an email, a mobile, a reference id) it is one in the
  population (four for other phones, which households and switchboards share;
  thirty for reference ids one edit apart); of every other level it is measured
  on random pairs of records (:func:`estimate_u`), starting from :data:`DEFAULT_U`.
* *m* starts from :data:`DEFAULT_M` and is re-estimated by expectation maximisation
  (:func:`fit`), once per blocking-key family on the pairs that family brought, each
  time leaving out the fields that family's blocks agree on by construction (the
  way splink trains), then averaged over the families.
* The prior is the chance that a record matches one given other record,
  ``matches_per_record / N``: 1.5 before fitting, then the matches the fit expects.

``missing`` levels, role mailboxes and shared phones weigh nothing, by design.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from contactsync.matching_compare import (
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
from contactsync.matching_stats import MIN_POPULATION

# m: P(level | one person), over the levels other than missing.
DEFAULT_M: dict[str, dict[str, float]] = {
    "first": {
        "exact": 0.80,
        "nickname": 0.07,
        "typo": 0.04,
        "initial": 0.03,
        "middle": 0.01,
        "similar": 0.02,
        "differ": 0.03,
    },
    "last": {
        "exact": 0.85,
        "maiden": 0.03,
        "part": 0.01,
        "typo": 0.04,
        "similar": 0.02,
        "differ": 0.05,
    },
    "middle": {"agree": 0.85, "differ": 0.15},
    "email": {"same": 0.6, "role": 0.05, "differ": 0.35},
    "phone": {"mobile": 0.45, "landline": 0.2, "shared": 0.05, "differ": 0.3},
    "reference": {"same": 0.95, "typo": 0.03, "differ": 0.02},
    "birthday": {"same": 0.92, "near": 0.04, "differ": 0.04},
    "street": {"same": 0.7, "typo": 0.1, "differ": 0.2},
    "place": {"postal": 0.75, "city": 0.1, "city_typo": 0.02, "differ": 0.13},
    "org": {"same": 0.75, "differ": 0.25},
}
# u: P(level | two people) before any data is seen, for levels not listed here: 0.01,
# and 0.97 for "differ".
DEFAULT_U: dict[str, dict[str, float]] = {
    "first": {"exact": 0.005, "nickname": 0.004, "typo": 0.002, "initial": 0.004},
    "last": {"exact": 0.002, "maiden": 0.0001, "part": 0.001, "typo": 0.002},
    "middle": {"agree": 0.1, "differ": 0.9},
    "birthday": {"same": 1 / 25000, "near": 0.0005, "differ": 0.99},
    "street": {"same": 0.0005, "typo": 0.0005, "differ": 0.99},
    "place": {"postal": 0.005, "city": 0.02, "city_typo": 0.001, "differ": 0.9},
    "org": {"same": 0.002, "differ": 0.95},
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
    ("phone", "mobile"): 1.0,
    ("phone", "landline"): 4.0,
    ("reference", "same"): 1.0,
    ("reference", "typo"): 30.0,
}
ZERO_LEVELS = frozenset({("email", "role"), ("phone", "shared")})
# Evidence a household or a team shares: void when the first names disagree.
SHAREABLE_FIELDS = frozenset({STREET, PLACE, ORG, FIELDS.index("middle")})
LANDLINE_LEVEL = LEVELS["phone"].index("landline")
EMAIL_SAME = LEVELS["email"].index("same")
PHONE_MOBILE = LEVELS["phone"].index("mobile")
REFERENCE_SAME = LEVELS["reference"].index("same")

DEFAULT_MATCHES_PER_RECORD = 1.5
MATCHES_PER_RECORD_BOUNDS = (0.5, 5.0)
M_FLOOR = 1e-4
U_FLOOR = 1e-9
M_PSEUDO_PAIRS = 10.0  # weight of DEFAULT_M in each family's estimate
U_PSEUDO_PAIRS = 200.0  # weight of DEFAULT_U in the random-pair estimate
EM_ITERATIONS = 30
EM_TOLERANCE = 1e-6
MIN_PAIRS_TO_FIT = 100
HOUSEHOLD_DURING_FIT = True
HOUSEHOLD_MAX_FIRST_DIFFER = 0.10


def _default_u(name: str, level: str, log_n: float) -> float:
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

    def u_of(self, name: str, level: str, log_n: float) -> float:
        return self.u.get(name, {}).get(level) or _default_u(name, level, log_n)

    def level_bits(self, index: int, level_index: int, log_n: float) -> float:
        """Bits of one level in scoring, without its term-frequency part."""
        name = FIELDS[index]
        level = LEVELS[name][level_index]
        if level_index == 0 or (name, level) in ZERO_LEVELS:
            return 0.0
        m = max(self.m[name][level], M_FLOOR)
        if (name, level) in VALUE_LEVELS:
            return math.log2(m / VALUE_LEVELS[(name, level)])
        if (name, level) in IDENTIFIER_LEVELS:
            return math.log2(m / IDENTIFIER_LEVELS[(name, level)]) + log_n
        return math.log2(m / max(self.u_of(name, level, log_n), U_FLOOR))

    def log_prior(self, log_n: float) -> float:
        return math.log2(self.matches_per_record) - log_n

    @property
    def household_rule(self) -> bool:
        """Whether first names are reliable enough here for the household rule to hold.

        It holds unless the fit finds that more than :data:`HOUSEHOLD_MAX_FIRST_DIFFER`
        of one person's pairs of records have unrelated first names (data whose first
        names were scrambled, such as FEBRL's, where the rule would split people).
        """
        return self.m["first"]["differ"] <= HOUSEHOLD_MAX_FIRST_DIFFER

    def household(self, vector: Vector) -> bool:
        """Whether the household rule voids this pair's shareable evidence."""
        return self.household_rule and household_applies(vector)


@dataclass(frozen=True)
class PatternWeight:
    """What a comparison vector weighs, before its term-frequency parts and log2(N) terms."""

    bits: float  # the levels' bits without the identifiers' log2(N)
    identifiers: int  # identifier levels counted (each adds log2(N))
    negative: float  # the sum of the disagreeing levels' bits
    household: bool  # first names disagree: shareable evidence is void


def household_applies(vector: Vector) -> bool:
    """First names disagree and no personal identifier (a personal email, a mobile, the
    reference id) agrees: what a household or a team shares must not make them one."""
    return vector[FIRST] in DISAGREEING_FIRST and not (
        vector[EMAIL] == EMAIL_SAME
        or vector[PHONE] == PHONE_MOBILE
        or vector[REFERENCE] == REFERENCE_SAME
    )


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
        is_identifier = (name, LEVELS[name][level_index]) in IDENTIFIER_LEVELS
        if household and shareable(index, level_index) and (value > 0 or is_identifier):
            continue
        if value < 0 and not is_identifier:
            negative += value
        bits += value
        identifiers += is_identifier
    return PatternWeight(bits, identifiers, negative, household)


def split_tf(tf: list[float]) -> tuple[float, float]:
    """Term-frequency bits of (first + last name, address + organization)."""
    return tf[FIRST] + tf[LAST], tf[STREET] + tf[PLACE] + tf[ORG]


def estimate_u(weights: Weights, vectors: Iterable[Vector], log_n: float) -> None:
    """Measure u of every level on the comparison vectors of random pairs of records."""
    counts = [[0] * len(LEVELS[name]) for name in FIELDS]
    for vector in vectors:
        for index, level in enumerate(vector):
            counts[index][level] += 1
    for index, name in enumerate(FIELDS):
        compared = sum(counts[index][1:])
        weights.u[name] = {
            level: (counts[index][i] + U_PSEUDO_PAIRS * _default_u(name, level, log_n))
            / (compared + U_PSEUDO_PAIRS)
            for i, level in enumerate(LEVELS[name])
            if i > 0
        }


def fit(
    weights: Weights,
    sessions: Mapping[str, Mapping[Vector, int]],
    primary: Mapping[str, Mapping[Vector, int]],
    excluded: Mapping[str, frozenset[str]],
    population: int,
) -> None:
    """Re-estimate m and the expected matches by EM, one session per blocking-key family.

    ``sessions``: family -> comparison vector -> how many of the family's pairs have it;
    ``primary``: the same over the pairs each family brought first (each pair once: the
    expected matches are counted there); ``excluded``: family -> the fields its blocks
    agree on by construction.
    """
    log_n = math.log2(max(population, MIN_POPULATION))
    totals = [[0.0] * len(LEVELS[name]) for name in FIELDS]
    expected_matches = 0.0
    for family, patterns in sessions.items():
        if sum(patterns.values()) < MIN_PAIRS_TO_FIT:
            continue
        skip = frozenset(FIELDS.index(name) for name in excluded.get(family, frozenset()))
        posterior, by_level = _session(weights, patterns, skip, log_n)
        own = primary.get(family, {})
        expected_matches += sum(count * posterior(vector) for vector, count in own.items())
        for index in range(len(FIELDS)):
            if index not in skip:
                for level, value in enumerate(by_level[index]):
                    totals[index][level] += value
    if expected_matches <= 0:
        return
    weights.m = _normalised(totals, DEFAULT_M)
    low, high = MATCHES_PER_RECORD_BOUNDS
    per_record = 2.0 * expected_matches / max(population, 1)
    weights.matches_per_record = min(max(per_record, low), high)
    weights.fitted = True


def _session(
    weights: Weights, patterns: Mapping[Vector, int], skip: frozenset[int], log_n: float
) -> tuple[Callable[[Vector], float], list[list[float]]]:
    """EM over one family's pairs: the fitted posterior, expected matches by field and level."""
    slots = [
        (index, level) for index, name in enumerate(FIELDS) for level in range(len(LEVELS[name]))
    ]
    slot_of = {slot: number for number, slot in enumerate(slots)}
    log_u = [
        math.log2(max(weights.u_of(FIELDS[i], LEVELS[FIELDS[i]][level], log_n), U_FLOOR))
        for i, level in slots
    ]
    ordered = sorted(patterns.items())
    active = [[slot_of[pair] for pair in _fit_levels(vector, skip)] for vector, _ in ordered]
    total = sum(patterns.values())
    m = {name: dict(levels) for name, levels in weights.m.items()}
    share = 0.5
    ratios: list[float] = []
    by_level: list[list[float]] = []
    for _ in range(EM_ITERATIONS):
        ratios = _log_ratios(m, slots, log_u)
        by_level = [[0.0] * len(LEVELS[name]) for name in FIELDS]
        matched = 0.0
        prior = math.log2(share / (1 - share))
        for (vector, count), levels in zip(ordered, active, strict=True):
            bits = prior + sum([ratios[slot] for slot in levels])
            expected = count / (1.0 + 2.0 ** -min(max(bits, -60.0), 60.0))
            matched += expected
            for index, level in enumerate(vector):
                by_level[index][level] += expected
        m = _normalised(by_level, m)
        previous, share = share, min(max(matched / total, 1e-6), 1 - 1e-6)
        if abs(previous - share) < EM_TOLERANCE:
            break
    ratios = _log_ratios(m, slots, log_u)
    final_prior = math.log2(share / (1 - share))

    def posterior(vector: Vector) -> float:
        levels = _fit_levels(vector, skip)
        bits = final_prior + sum(ratios[slot_of[pair]] for pair in levels)
        return float(1.0 / (1.0 + 2.0 ** -min(max(bits, -60.0), 60.0)))

    return posterior, by_level


def _fit_levels(vector: Vector, skip: frozenset[int]) -> list[tuple[int, int]]:
    """The (field, level) pairs of a vector that count during the fit."""
    household = HOUSEHOLD_DURING_FIT and household_applies(vector)
    levels = []
    for index, level_index in enumerate(vector):
        if level_index == 0 or index in skip:
            continue
        name = FIELDS[index]
        level = LEVELS[name][level_index]
        if (name, level) in ZERO_LEVELS:
            continue
        if household and level != "differ" and shareable(index, level_index):
            continue
        levels.append((index, level_index))
    return levels


def _log_ratios(
    m: Mapping[str, Mapping[str, float]], slots: list[tuple[int, int]], log_u: list[float]
) -> list[float]:
    ratios = []
    for k, (index, level) in enumerate(slots):
        name = FIELDS[index]
        if level == 0:
            ratios.append(0.0)
            continue
        ratios.append(math.log2(max(m[name][LEVELS[name][level]], M_FLOOR)) - log_u[k])
    return ratios


def _normalised(
    counts: list[list[float]], prior: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per field, the levels' shares among the compared pairs, smoothed towards ``prior``."""
    result: dict[str, dict[str, float]] = {}
    for index, name in enumerate(FIELDS):
        observed = counts[index]
        compared = sum(observed[1:])
        result[name] = {
            level: (observed[i] + M_PSEUDO_PAIRS * prior[name][level]) / (compared + M_PSEUDO_PAIRS)
            for i, level in enumerate(LEVELS[name])
            if i > 0
        }
    return result
