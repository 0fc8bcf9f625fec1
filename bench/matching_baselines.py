"""The baselines the matcher is measured against, each returning record -> cluster label.

* splink (DuckDB backend), unsupervised: u by random sampling, the match prior from
  deterministic rules, m by expectation maximisation on two blocking rules; pairs
  clustered (connected components) at match probability 0.9.
* recordlinkage, ECM (unsupervised EM on binary comparison vectors); the links are
  clustered into connected components.
* the naive rule: same first + last name, or same email, or same phone.

Every method gets the same flat columns (``matching_data.flat_row``) and is given
the blocking and comparisons a careful user would set up for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

SPLINK_THRESHOLD = 0.9


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


def components(size: int, links: Iterable[tuple[int, int]]) -> list[int]:
    """Connected components of ``links`` over ``size`` records: a label per record."""
    sets = _UnionFind(size)
    for a, b in links:
        sets.union(a, b)
    return [sets.find(i) for i in range(size)]


def _present(rows: Sequence[dict[str, Any]], column: str) -> bool:
    return any(row.get(column) for row in rows)


def naive_rule(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Same first + last name, or same email, or same phone."""
    seen: dict[tuple[str, str], int] = {}
    links = []
    for position, row in enumerate(rows):
        keys = []
        if row.get("first_name") and row.get("last_name"):
            keys.append(("name", f"{row['first_name'].lower()}|{row['last_name'].lower()}"))
        if row.get("email"):
            keys.append(("email", row["email"].strip().lower()))
        if row.get("phone"):
            keys.append(("phone", row["phone"]))
        for key in keys:
            if key in seen:
                links.append((seen[key], position))
            else:
                seen[key] = position
    return components(len(rows), links)


def splink_clusters(rows: Sequence[dict[str, Any]]) -> list[int]:
    """splink 4+/5 on DuckDB, trained without labels."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    frame = pd.DataFrame(list(rows))
    comparisons = [
        cl.NameComparison("first_name"),
        cl.NameComparison("last_name"),
    ]
    rules = [block_on("first_name", "last_name"), block_on("reference")]
    em_rules = [block_on("first_name", "last_name")]
    deterministic = [block_on("reference")]
    if _present(rows, "email"):
        comparisons.append(cl.EmailComparison("email"))
        rules.append(block_on("email"))
        deterministic.append(block_on("email"))
        em_rules.append(block_on("email"))
    if _present(rows, "phone"):
        comparisons.append(cl.ExactMatch("phone"))
        rules.append(block_on("phone"))
    if _present(rows, "birthday"):
        comparisons.append(
            cl.DateOfBirthComparison("birthday", input_is_string=True, datetime_format="%Y-%m-%d")
            if "-" in next(r["birthday"] for r in rows if r.get("birthday"))
            else cl.LevenshteinAtThresholds("birthday", [1, 2])
        )
        rules += [block_on("birthday", "substr(first_name, 1, 1)"), block_on("birthday")]
        em_rules.append(block_on("birthday"))
    if _present(rows, "street"):
        comparisons.append(cl.LevenshteinAtThresholds("street", [1, 3]))
        rules.append(block_on("street"))
    if _present(rows, "postal_code"):
        comparisons.append(cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True))
        rules.append(block_on("postal_code", "last_name"))
    if _present(rows, "city"):
        comparisons.append(cl.ExactMatch("city").configure(term_frequency_adjustments=True))
    if _present(rows, "organization"):
        comparisons.append(cl.JaroWinklerAtThresholds("organization", [0.9]))
    comparisons.append(cl.LevenshteinAtThresholds("reference", [1]))
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    if len(em_rules) == 1:
        em_rules.append(block_on("reference"))
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_THRESHOLD
    ).as_pandas_dataframe()
    label = dict(zip(clusters["unique_id"], clusters["cluster_id"], strict=True))
    ids = [row["unique_id"] for row in rows]
    names = {value: number for number, value in enumerate(dict.fromkeys(label[i] for i in ids))}
    return [names[label[i]] for i in ids]


def recordlinkage_clusters(rows: Sequence[dict[str, Any]]) -> list[int]:
    """recordlinkage's ECM classifier over binary comparisons, then connected components."""
    import pandas as pd
    import recordlinkage

    frame = pd.DataFrame(list(rows)).reset_index(drop=True)
    indexer = recordlinkage.Index()
    indexer.block(["first_name", "last_name"])
    indexer.block("reference")
    if _present(rows, "email"):
        indexer.block("email")
    if _present(rows, "phone"):
        indexer.block("phone")
    if _present(rows, "birthday"):
        indexer.block("birthday")
    if _present(rows, "postal_code"):
        indexer.block(["postal_code", "last_name"])
    pairs = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.85, label="fn")
    compare.string("last_name", "last_name", method="jarowinkler", threshold=0.85, label="ln")
    compare.string("reference", "reference", method="levenshtein", threshold=0.85, label="ref")
    for column in ("email", "phone", "postal_code", "city", "organization"):
        if _present(rows, column):
            compare.exact(column, column, label=column)
    if _present(rows, "birthday"):
        compare.string("birthday", "birthday", method="levenshtein", threshold=0.85, label="dob")
    if _present(rows, "street"):
        compare.string("street", "street", method="levenshtein", threshold=0.85, label="street")
    vectors = compare.compute(pairs, frame)
    classifier = recordlinkage.ECMClassifier(binarize=0.5)
    matches = classifier.fit_predict(vectors)
    return components(len(rows), ((int(a), int(b)) for a, b in matches))
