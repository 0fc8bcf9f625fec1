"""pseudopeople's bundled sample data (no download), linked by ``simulant_id``.

Census-style records of one simulated town: whole households at one address (same
surname, different first names), typos, swapped and missing values, as
pseudopeople's default noise makes them.

* :func:`pseudopeople_linkage_set`: the 2020 decennial census against the 2020 tax
  1040 returns (names and addresses; only the census has a birth date, only the
  returns an SSN). One return per filer: the 1040 side holds no duplicates.
* :func:`pseudopeople_dedup_set`: the census, the ACS and the CPS samples in one
  file, deduplicated (a few people answered more than one survey; everybody else
  shares a household with people who must stay apart).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from matching_data import ORIGIN_PSEUDOPEOPLE, Labelled

PP_COLUMNS = ["first_name", "middle_initial", "last_name", "date_of_birth", "street",
              "unit_number", "city", "state", "zipcode", "ssn"]  # fmt: skip
PP_MAP = [
    ("first_name", "first_name"), ("middle_initial", "middle_name"),
    ("last_name", "last_name"), ("date_of_birth", "birthday"), ("street", "street"),
    ("unit_number", "street"), ("city", "city"), ("state", "region"),
    ("zipcode", "postal_code"), ("ssn", "reference"),
]  # fmt: skip


def _generators() -> Any:
    os.environ.setdefault("TQDM_DISABLE", "1")  # pseudopeople's progress bars on stderr
    import numpy

    saved = numpy.geterr()
    import pseudopeople

    numpy.seterr(**saved)  # vivarium, imported by pseudopeople, makes every numpy error raise
    return pseudopeople


def _iso_date(text: str) -> str:
    """pseudopeople writes MM/DD/YYYY; the same ISO text goes to every method. A date
    its noise made impossible stays as written (each method copes with it)."""
    try:
        return dt.datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    except ValueError:
        return text


def _values(row: dict[str, Any], address_prefix: str = "") -> dict[str, Any]:
    def plain(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    def address(name: str) -> str:
        return plain(address_prefix + name)

    street = " ".join(v for v in (address("street_number"), address("street_name")) if v)
    if not street and address("po_box"):
        street = f"PO Box {address('po_box')}"
    return {
        "first_name": plain("first_name"),
        "middle_initial": plain("middle_initial"),
        "last_name": plain("last_name"),
        "date_of_birth": _iso_date(plain("date_of_birth")),
        "street": street,
        "unit_number": address("unit_number"),
        "city": address("city"),
        "state": address("state"),
        "zipcode": address("zipcode"),
        "ssn": plain("ssn"),
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    return [
        {k: (None if v != v else v) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]


def census_names(at_least: int) -> tuple[list[str], list[str]]:
    """First and last names the sample census writes the same way ``at_least`` times."""
    from collections import Counter

    frame = _generators().generate_decennial_census()
    pools = []
    for column in ("first_name", "last_name"):
        counts = Counter(str(v).strip() for v in frame[column] if isinstance(v, str))
        pools.append(sorted(n for n, c in counts.items() if c >= at_least and n.isalpha()))
    return pools[0], pools[1]


def pseudopeople_linkage_set() -> Labelled:
    pp = _generators()
    data = Labelled(
        "pseudopeople census vs taxes 1040 linkage",
        ORIGIN_PSEUDOPEOPLE,
        PP_COLUMNS,
        list(PP_MAP),
        linkage=True,
        dedup_free=("taxes_1040",),
    )
    for row in _records(pp.generate_decennial_census()):
        data.add(_values(row), str(row["simulant_id"]), "census")
    for row in _records(pp.generate_taxes_1040()):
        data.add(_values(row, "mailing_address_"), str(row["simulant_id"]), "taxes_1040")
    return data


def pseudopeople_dedup_set() -> Labelled:
    pp = _generators()
    data = Labelled(
        "pseudopeople census + ACS + CPS dedup", ORIGIN_PSEUDOPEOPLE, PP_COLUMNS, list(PP_MAP)
    )
    for generate in (
        pp.generate_decennial_census,
        pp.generate_american_community_survey,
        pp.generate_current_population_survey,
    ):
        for row in _records(generate()):
            data.add(_values(row), str(row["simulant_id"]))
    return data
