"""Estimating the weights on the records themselves, without labels.

* **u of every level** is measured on a large random sample of pairs (almost all of
  them two people): :func:`contactsync.matching.weights.estimate_u`. An identifier
  level (a shared email, phone or reference id) is too rare among random pairs to be
  counted there, and counting it over all pairs would count the true matches too
  (u = matches / N, which cancels the prior exactly). So its u is the rate at which
  records whose first names disagree share it: over every pair that exists, from the
  candidate pairs (all pairs sharing an identifier are candidates), with half a pair
  as a floor. Households and switchboards sharing a landline show up there.
* **The prior** (the chance that two records are one person) comes from
  high-precision deterministic rules: pairs agreeing on two independent strong
  pieces of evidence (the full name, a personal email, a mobile, the reference id,
  the birthday, street and postal code), over the pairs that exist, corrected for
  the share of matches the rules are taken to find (:data:`RULE_RECALL`).
* **m** by a guarded EM: each round, a field group's m is re-estimated from the
  posterior of the *other* groups' evidence alone (leave one group out), so a field
  never confirms itself, and address evidence that the household rule voids never
  turns a household into a person. After the rounds a field whose learned m is not
  sane (an agreement less likely than by chance, a weaker level outweighing the
  strongest, a disagreement counting for the pair) or that was learned from too few
  pairs falls back to its documented default (DEFAULT_M). Nothing EM learns switches
  a rule on or off.
* **Whether "households" are households** is counted, not learned: where most pairs
  the household rule keeps apart share a birthday, it is personal evidence for them
  (:func:`birthday_is_personal`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from contactsync.matching.compare import (
    BIRTHDAY,
    DISAGREEING_FIRST,
    EMAIL,
    FIELDS,
    FIRST,
    LAST,
    LEVELS,
    MIDDLE,
    ORG,
    PHONE,
    PLACE,
    REFERENCE,
    STREET,
    Vector,
    level_index,
)
from contactsync.matching.pairs import ComparedPairs
from contactsync.matching.stats import MIN_POPULATION
from contactsync.matching.weights import (
    DEFAULT_M,
    M_FLOOR,
    U_FLOOR,
    ZERO_LEVELS,
    Weights,
    default_u,
    estimate_u,
    household_cannot_link,
    pattern_field_bits,
)

# Share of the true matches the deterministic rules are taken to find.
RULE_RECALL = 0.75
# Fewer rule pairs than this say nothing about the prior: the default holds.
MIN_RULE_PAIRS = 10
# Pseudo-pairs of prior belief behind each measured identifier u.
ID_PSEUDO_PAIRS = 100_000.0
MATCHES_PER_RECORD_BOUNDS = (0.01, 5.0)
EM_ROUNDS = 3
M_PSEUDO_PAIRS = 10.0  # weight of DEFAULT_M in each estimate
# A field's m learned from less posterior mass than this falls back to DEFAULT_M.
MIN_ANCHOR_PAIRS = 20.0
# A field that disagrees for more than this share of one person's pairs was learned
# from pairs that are not one person (households, copied values): defaults instead.
MAX_M_DIFFER = 0.5
# Leave-one-out groups: fields that say the same kind of thing (and share tf bits).
GROUPS: tuple[tuple[int, ...], ...] = (
    (FIRST, LAST, MIDDLE),
    (EMAIL,),
    (PHONE,),
    (REFERENCE,),
    (BIRTHDAY,),
    (STREET, PLACE),
    (ORG,),
)
NAME_GROUP, ADDRESS_GROUP = 0, 5
_LAST_DIFFER = level_index("last", "differ")
_BIRTHDAY_MISSING = level_index("birthday", "missing")
# Pairs of first names sharing a birthday in household pairs below this: too few to
# say households are absent (one household of four members makes six).
MIN_HOUSEHOLD_NAME_PAIRS = 10
# Share of household pairs sharing a birthday above which they are not households:
# twins and copy mistakes are a few per cent of the pairs of people who live together.
SHARED_BIRTHDAY_SHARE = 0.5


def _unrelated(vector: Vector) -> bool:
    """Neither name agrees: two people, almost surely (a person's duplicates rarely lose
    both names)."""
    return vector[FIRST] in DISAGREEING_FIRST and vector[LAST] == _LAST_DIFFER


def _other_first(vector: Vector) -> bool:
    """The first names disagree: two people, or a household (which shares landlines)."""
    return vector[FIRST] in DISAGREEING_FIRST


# Per identifier level, the pairs taken for two people when measuring its u: a
# personal identifier on pairs whose names both disagree (a duplicate whose first name
# was replaced must not count as two people sharing an id); a landline on pairs whose
# first names disagree, households included.
STRANGERS: dict[tuple[str, str], Callable[[Vector], bool]] = {
    ("email", "same"): _unrelated,
    ("email", "typo"): _unrelated,
    ("email", "local"): _unrelated,
    ("email", "masked"): _unrelated,
    ("phone", "mobile"): _unrelated,
    ("phone", "landline"): _other_first,
    ("phone", "near"): _other_first,
    ("reference", "same"): _unrelated,
    ("reference", "typo"): _unrelated,
    ("reference", "near"): _unrelated,
}
WEAKER_IDENTIFIER_LEVELS = (
    (("email", "same"), ("email", "typo")),
    (("email", "typo"), ("email", "local")),
    (("email", "same"), ("email", "masked")),
    (("phone", "mobile"), ("phone", "landline")),
    (("phone", "landline"), ("phone", "near")),
    (("reference", "same"), ("reference", "typo")),
    (("reference", "typo"), ("reference", "near")),
)

_STRONG = {
    EMAIL: level_index("email", "same"),
    PHONE: level_index("phone", "mobile"),
    REFERENCE: level_index("reference", "same"),
    BIRTHDAY: level_index("birthday", "same"),
}
_NAME_FIRST = frozenset({level_index("first", "exact"), level_index("first", "nickname")})
_NAME_LAST = frozenset({level_index("last", "exact"), level_index("last", "maiden")})
_STREET_SAME = level_index("street", "same")
_PLACE_POSTAL = level_index("place", "postal")


def strong_agreements(vector: Vector) -> int:
    """How many independent strong pieces of evidence a pair agrees on."""
    count = int(vector[FIRST] in _NAME_FIRST and vector[LAST] in _NAME_LAST)
    count += sum(vector[index] == level for index, level in _STRONG.items())
    count += int(vector[STREET] == _STREET_SAME and vector[PLACE] == _PLACE_POSTAL)
    return count


def estimate_weights(
    compared: ComparedPairs,
    random_vectors: Sequence[Vector],
    population: int,
    pairs_total: int,
    first_names: Sequence[str] | None = None,
) -> Weights:
    """The weights for these records (see the module docs).

    ``pairs_total``: the pairs that exist (``N(N-1)/2``, or across sources only);
    ``first_names``: each record's first name, by position (for
    :func:`birthday_is_personal`; without them a birthday is never personal)."""
    log_n = math.log2(max(population, MIN_POPULATION))
    weights = Weights()
    estimate_u(weights, random_vectors, log_n)
    counts = Counter(compared.pattern)
    patterns = {compared.vectors[number]: count for number, count in counts.items()}
    weights.partners = 2.0 * pairs_total / max(population, 1)
    weights.identifier_u = _identifier_u(patterns, random_vectors, pairs_total, log_n)
    if first_names is not None:
        weights.birthday_personal = birthday_is_personal(compared, first_names)
    rule_pairs = sum(count for vector, count in patterns.items() if strong_agreements(vector) >= 2)
    if rule_pairs >= MIN_RULE_PAIRS:
        low, high = MATCHES_PER_RECORD_BOUNDS
        per_record = 2.0 * rule_pairs / RULE_RECALL / max(population, 1)
        weights.matches_per_record = min(max(per_record, low), high)
        weights.prior_measured = True
    grouped = _grouped(compared)
    if not grouped:
        return weights
    anchors: list[float] = []
    for _ in range(EM_ROUNDS):
        weights.m, anchors = _leave_one_out_m(weights, compared.vectors, grouped, log_n)
    for index, name in enumerate(FIELDS):
        if anchors[index] < MIN_ANCHOR_PAIRS:
            weights.m[name] = dict(DEFAULT_M[name])
        else:
            _made_sane(weights, name, log_n)
    weights.fitted = True
    return weights


def birthday_is_personal(compared: ComparedPairs, first_names: Sequence[str]) -> bool:
    """Whether the pairs the household rule would keep apart mostly share a birthday.

    In people who live together, few pairs share a birthday: twins, and the odd
    record that copied a household member's. Where most "household" pairs (same last
    name and address or landline, other first name, no personal identifier) that both
    give a birthday share it, there are no households to keep apart: those are one
    person's records whose first name was changed (by a clerk, or by a generator of
    test data such as FEBRL's), and the shared birthday is personal evidence.

    Counted on the candidate pairs by their two first names (``first_names``, per
    record position), so that one family's records copied into several systems count
    once; fewer such name pairs than MIN_HOUSEHOLD_NAME_PAIRS (more than one
    household of four can make) leave the rule as it is."""
    household = [
        number
        for number, vector in enumerate(compared.vectors)
        if vector[BIRTHDAY] != _BIRTHDAY_MISSING and household_cannot_link(vector)
    ]
    if not household:
        return False
    wanted, shared_birthday = set(household), _STRONG[BIRTHDAY]
    sharing: set[frozenset[str]] = set()
    differing: set[frozenset[str]] = set()
    for i, j, pattern in zip(compared.first, compared.second, compared.pattern, strict=True):
        if pattern in wanted:
            names = frozenset((first_names[i], first_names[j]))
            same = compared.vectors[pattern][BIRTHDAY] == shared_birthday
            (sharing if same else differing).add(names)
    known = len(sharing | differing)
    return len(sharing) >= MIN_HOUSEHOLD_NAME_PAIRS and len(sharing) > SHARED_BIRTHDAY_SHARE * known


def _identifier_u(
    patterns: dict[Vector, int],
    random_vectors: Sequence[Vector],
    pairs_total: int,
    log_n: float,
) -> dict[tuple[str, str], float]:
    if not random_vectors or pairs_total <= 0:
        return {}
    result = {}
    for (name, level), strangers_of in STRANGERS.items():
        index, number = FIELDS.index(name), level_index(name, level)
        sampled = sum(strangers_of(vector) for vector in random_vectors)
        if sampled == 0:
            continue
        strangers = pairs_total * sampled / len(random_vectors)
        agreeing = sum(
            count
            for vector, count in patterns.items()
            if vector[index] == number and strangers_of(vector)
        )
        # Smoothed towards the default (one in the population) by ID_PSEUDO_PAIRS: a
        # small data set has too few pairs to measure a rate this low.
        prior = ID_PSEUDO_PAIRS * default_u(name, level, log_n)
        measured = (agreeing + 0.5 + prior) / (strangers + ID_PSEUDO_PAIRS)
        result[(name, level)] = min(0.5, max(measured, U_FLOOR))
    # A weaker agreement happens by chance at least as often as a stronger one.
    for stronger, weaker in WEAKER_IDENTIFIER_LEVELS:
        if stronger in result and weaker in result:
            result[weaker] = max(result[weaker], result[stronger])
    return result


def _grouped(compared: ComparedPairs) -> Counter[tuple[int, float, float]]:
    """Pairs counted by (pattern, personal tf, shared tf), tf rounded to half a bit."""
    grouped: Counter[tuple[int, float, float]] = Counter()
    for pattern, personal, shared in zip(
        compared.pattern, compared.personal_tf, compared.shared_tf, strict=True
    ):
        grouped[(pattern, round(personal * 2) / 2, round(shared * 2) / 2)] += 1
    return grouped


def _sigmoid(bits: float) -> float:
    return float(1.0 / (1.0 + 2.0 ** -min(max(bits, -60.0), 60.0)))


def _group_bits(weights: Weights, vector: Vector, log_n: float) -> tuple[list[float], bool]:
    """Per leave-one-out group, its bits for this vector (without term frequencies)."""
    bits, household = pattern_field_bits(weights, vector, log_n)
    return [sum(bits[index] for index in group) for group in GROUPS], household


def _leave_one_out_m(
    weights: Weights,
    vectors: Sequence[Vector],
    grouped: Counter[tuple[int, float, float]],
    log_n: float,
) -> tuple[dict[str, dict[str, float]], list[float]]:
    """One round: m per field from the other groups' posterior, and the posterior mass
    (matches, in pairs) each field's estimate rests on."""
    mass = [[0.0] * len(LEVELS[name]) for name in FIELDS]
    prior = weights.log_prior(log_n)
    by_pattern: dict[int, tuple[list[float], bool]] = {}
    for (pattern, personal, shared), count in grouped.items():
        vector = vectors[pattern]
        known = by_pattern.get(pattern)
        if known is None:
            known = by_pattern[pattern] = _group_bits(weights, vector, log_n)
        group_bits, household = known
        group_bits = list(group_bits)
        group_bits[NAME_GROUP] += personal
        if not household:
            group_bits[ADDRESS_GROUP] += shared
        total = prior + sum(group_bits)
        for number, group in enumerate(GROUPS):
            chance = _sigmoid(total - group_bits[number]) * count
            for index in group:
                mass[index][vector[index]] += chance
    result: dict[str, dict[str, float]] = {}
    for index, name in enumerate(FIELDS):
        observed = mass[index]
        compared = sum(observed[1:])
        result[name] = {
            level: (observed[i] + M_PSEUDO_PAIRS * DEFAULT_M[name][level])
            / (compared + M_PSEUDO_PAIRS)
            for i, level in enumerate(LEVELS[name])
            if i > 0
        }
    return result, [sum(levels[1:]) for levels in mass]


def _made_sane(weights: Weights, name: str, log_n: float) -> None:
    """Sanity of one field's learned m, repaired level by level: an agreement is at
    least as likely for one person as by chance (else its default m, and never below
    u); no level outweighs the strongest (the first listed); a disagreement that comes
    out as evidence for the pair, or for most of one person's pairs, sends the whole
    field back to its defaults."""
    m = weights.m[name]
    levels = [level for level in LEVELS[name][1:] if (name, level) not in ZERO_LEVELS]

    def bits(level: str) -> float:
        u = max(weights.u_of(name, level, log_n), U_FLOOR)
        return math.log2(max(m[level], M_FLOOR) / u)

    if "differ" in m and (bits("differ") > 0 or m["differ"] > MAX_M_DIFFER):
        weights.m[name] = dict(DEFAULT_M[name])
        return
    agreements = [level for level in levels if level != "differ"]
    for level in agreements:
        if bits(level) < 0:
            m[level] = max(DEFAULT_M[name][level], weights.u_of(name, level, log_n))
    if not agreements:
        return
    strongest = bits(agreements[0])
    for level in agreements[1:]:
        if bits(level) > strongest:
            m[level] = max(weights.u_of(name, level, log_n), U_FLOOR) * 2.0**strongest
