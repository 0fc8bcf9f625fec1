"""The baselines the matcher is measured against; each returns an :class:`Outcome`.

* splink 5 (DuckDB), unsupervised, set up as its own examples are (the FEBRL4 and
  deduplication demos): name, date-of-birth, email and edit-distance comparisons with
  term-frequency adjustment of names, places, emails and phones (a shared main line
  weighs less), several blocking rules, the prior from high-precision deterministic
  rules (names with an email, phone or birth date; the id), u by random sampling, m
  by EM on two or three blocking rules on what one person holds alone (names, birth
  date, id); pairs clustered (connected components) at match probability 0.9. A
  region is compared only where there is no postcode or city (it would be counted
  twice). A linkage runs in ``link_only`` mode on the two files, on the columns both
  files have.
* recordlinkage, ECM (unsupervised EM on binary comparison vectors) over the union
  of standard blocks and a sorted neighbourhood on the surname; a linkage uses its
  two-frame index. Columns one value fills for the most part (a town's only
  postcode) and comparisons constant over the candidates are left out (they carry
  nothing, and ECM would learn them as a class). The links are clustered into
  connected components.
* the naive rule: same first + last name, or same email, or same phone, or same id
  (in a linkage only across the sources).

Every method reads the same rows (``matching_data.flat_rows``: trimmed, lower
case, phones as their last ten digits and any extension). None is tuned on the truth.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matching_data import SOURCE_COLUMN, Labelled, flat_rows

SPLINK_THRESHOLD = 0.9
Pairs = set[tuple[int, int]]


@dataclass
class Outcome:
    labels: list[object]
    candidates: Pairs | None = None  # every pair the method compared, where it says
    untimed: float = 0.0  # seconds spent only to list the candidates (not the method's)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def components(size: int, links: Iterable[tuple[int, int]]) -> list[object]:
    """Connected components of ``links`` over ``size`` records: a label per record."""
    sets = _UnionFind(size)
    for a, b in links:
        sets.union(a, b)
    return [sets.find(i) for i in range(size)]


def _present(rows: Sequence[dict[str, Any]], column: str) -> bool:
    return any(row.get(column) for row in rows)


def usable_columns(rows: Sequence[dict[str, Any]], linkage: bool) -> set[str]:
    """Columns with values (in a linkage: on both sides; a column only one file has
    cannot be compared)."""
    if not rows:
        return set()
    columns = {c for c in rows[0] if c not in ("unique_id", SOURCE_COLUMN)}
    if not linkage:
        return {c for c in columns if _present(rows, c)}
    sides: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        sides.setdefault(row[SOURCE_COLUMN], []).append(row)
    return {c for c in columns if all(_present(side, c) for side in sides.values())}


def informative(rows: Sequence[dict[str, Any]], column: str) -> bool:
    """False when one value fills more than half of the column (a town's only postcode):
    a binary agreement on it says nothing, and ECM would learn it as a class."""
    values = [row[column] for row in rows if row.get(column)]
    if not values:
        return False
    most = max(Counter(values).values())
    return most <= len(values) / 2


def naive_rule(data: Labelled) -> Outcome:
    """Same first + last name, or same email, or same phone, or same id."""
    rows = flat_rows(data)
    seen: dict[tuple[str, str], list[int]] = {}
    links = []
    for position, row in enumerate(rows):
        keys = []
        if row.get("first_name") and row.get("last_name"):
            keys.append(("name", f"{row['first_name']}|{row['last_name']}"))
        for column in ("email", "phone", "reference"):
            if row.get(column):
                keys.append((column, row[column]))
        for key in keys:
            holders = seen.setdefault(key, [])
            source = row.get(SOURCE_COLUMN)
            other = next((h for h in holders if rows[h].get(SOURCE_COLUMN) != source), None)
            if not data.linkage and holders:
                links.append((holders[0], position))
            elif data.linkage and other is not None:
                links.append((other, position))
            holders.append(position)
    return Outcome(components(len(rows), links))


def _splink_settings(rows: list[dict[str, Any]], link: bool) -> tuple[Any, list[Any], list[Any]]:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    has = usable_columns(rows, link)
    tf = {"term_frequency_adjustments": True}  # shared values (a main line) weigh less
    comparisons = [
        cl.NameComparison("first_name").configure(**tf),
        cl.NameComparison("last_name").configure(**tf),
    ]
    rules = [block_on("first_name", "last_name"), block_on("substr(first_name,1,2)",
             "substr(last_name,1,2)")]  # fmt: skip
    # EM sessions on what one person holds alone (names, birth date, id), not on what a
    # household or a team shares (street, phone): there EM learns "same address" as the
    # match class. A session trains every comparison but the ones it blocks on.
    em_rules = [block_on("first_name", "last_name")]
    deterministic = []
    if "middle_name" in has:
        comparisons.append(cl.ExactMatch("middle_name"))
    if "email" in has:
        comparisons.append(cl.EmailComparison("email").configure(**tf))
        rules.append(block_on("email"))
        deterministic.append(block_on("first_name", "last_name", "email"))
    if "phone" in has:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("phone", [1]).configure(**tf))
        rules.append(block_on("phone"))
        deterministic.append(block_on("first_name", "last_name", "phone"))
    if "birthday" in has:
        comparisons.append(
            cl.DateOfBirthComparison("birthday", input_is_string=True, invalid_dates_as_null=True)
        )
        rules += [block_on("birthday")]
        deterministic.append(block_on("first_name", "last_name", "birthday"))
        em_rules.append(block_on("birthday"))
    if "street" in has:
        comparisons.append(cl.LevenshteinAtThresholds("street", [1, 3]))
        rules.append(block_on("street"))
        deterministic.append(block_on("first_name", "last_name", "street"))
    if "postal_code" in has:
        comparisons.append(cl.ExactMatch("postal_code").configure(**tf))
        rules.append(block_on("postal_code", "last_name"))
    if "city" in has:
        comparisons.append(cl.ExactMatch("city").configure(**tf))
    if "region" in has and not {"postal_code", "city"} & has:  # else counted twice
        comparisons.append(cl.ExactMatch("region").configure(**tf))
    if "organization" in has:
        comparisons.append(cl.JaroWinklerAtThresholds("organization", [0.9]).configure(**tf))
    if "reference" in has:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("reference", [1, 2]))
        rules.append(block_on("reference"))
        deterministic.append(block_on("reference"))
        em_rules.append(block_on("reference"))
    if not deterministic:
        deterministic.append(block_on("first_name", "last_name"))
    if len(em_rules) == 1 and "email" in has:  # the names need a rule that leaves them free
        em_rules.append(block_on("email"))
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    return settings, deterministic, em_rules[:3]


def splink_clusters(data: Labelled) -> Outcome:
    """splink 5 on DuckDB, trained without labels (see the module docstring)."""
    import time

    import pandas as pd
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    rows = flat_rows(data)
    settings, deterministic, em_rules = _splink_settings(rows, data.linkage)
    db_api = DuckDBAPI()
    frame = pd.DataFrame(rows)
    if data.linkage:
        tables = [
            db_api.register(part.drop(columns=[SOURCE_COLUMN]), dataset_display_name=str(name))
            for name, part in frame.groupby(SOURCE_COLUMN, sort=True)
        ]
        linker = Linker(tables, settings, log_level=logging.ERROR)
    else:
        linker = Linker(db_api.register(frame), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in em_rules:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:  # a rule EM cannot train on is left out, as a user would
            logging.getLogger(__name__).info("splink EM rule skipped: %s", exc)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_THRESHOLD
    ).as_pandas_dataframe()
    label = dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"], strict=True))
    ids = [row["unique_id"] for row in rows]
    labels: list[object] = [label.get(i, f"alone-{i}") for i in ids]
    started = time.perf_counter()  # the blocked pairs, only for pair completeness
    every = linker.inference.predict()
    compared = linker.misc.query_sql(
        f"select unique_id_l, unique_id_r from {every.physical_name}", output_type="pandas"
    )
    candidates = {
        (min(int(a), int(b)), max(int(a), int(b)))
        for a, b in zip(compared["unique_id_l"], compared["unique_id_r"], strict=True)
    }
    return Outcome(labels, candidates, time.perf_counter() - started)


def recordlinkage_clusters(data: Labelled) -> Outcome:
    """recordlinkage's ECM classifier over binary comparisons, then connected components."""
    import numpy
    import pandas as pd
    import recordlinkage

    rows = flat_rows(data)
    frame = pd.DataFrame(rows)
    frame.index = frame.index.astype(int)
    has = usable_columns(rows, data.linkage)
    compared = {c for c in has if informative(rows, c)}
    indexer = recordlinkage.Index()
    indexer.block(["first_name", "last_name"])
    indexer.sortedneighbourhood("last_name", window=5, block_on="first_name")
    for key in ("reference", "email", "phone", "birthday"):
        if key in has:
            indexer.block(key)
    if "postal_code" in has:
        indexer.block(["postal_code", "last_name"])
    if "street" in has:
        indexer.block("street")
    has = compared
    if data.linkage:
        names = sorted(set(frame[SOURCE_COLUMN]))
        first = frame[frame[SOURCE_COLUMN] == names[0]]
        second = frame[frame[SOURCE_COLUMN] == names[1]]
        pairs = indexer.index(first, second)
    else:
        first = second = frame
        pairs = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.85, label="fn")
    compare.string("last_name", "last_name", method="jarowinkler", threshold=0.85, label="ln")
    if "reference" in has:
        compare.string("reference", "reference", method="levenshtein", threshold=0.85)
    for column in ("middle_name", "email", "phone", "postal_code", "city", "region"):
        if column in has:
            compare.exact(column, column, label=column)
    if "organization" in has:
        compare.string("organization", "organization", method="jarowinkler", threshold=0.9)
    if "birthday" in has:
        compare.string("birthday", "birthday", method="levenshtein", threshold=0.85, label="dob")
    if "street" in has:
        compare.string("street", "street", method="levenshtein", threshold=0.85, label="street")
    vectors = (
        compare.compute(pairs, first, second) if data.linkage else compare.compute(pairs, frame)
    )
    # A comparison that never (or always) agrees on the candidates carries nothing and
    # makes ECM's log-likelihood divide by zero: left out.
    vectors = vectors.loc[:, [c for c in vectors.columns if 0 < vectors[c].sum() < len(vectors)]]
    # numpy's default error handling, as recordlinkage expects (pseudopeople, imported
    # for the name pools, sets floating-point errors to raise)
    with numpy.errstate(all="ignore"):
        matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(vectors)
    candidates = {(min(int(a), int(b)), max(int(a), int(b))) for a, b in pairs}
    labels = components(len(rows), ((int(a), int(b)) for a, b in matches))
    return Outcome(labels, candidates)
