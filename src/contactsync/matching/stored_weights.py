"""The sync engine's matcher weights, fitted on what the state holds and kept there.

The engine is a linkage of systems (each system a source; a system may hold
duplicates, which the fit then does not learn from). :func:`fit_or_load` gives a
:class:`~contactsync.matching.matcher.PersonIndex` the weights stored in the state
(``match_weights``, migration ``0008_match_weights``) while the index has not grown
by :data:`REFRESH_GROWTH` since they were fitted; otherwise it fits them on the
indexed records, as a batch does (:mod:`contactsync.matching.estimate`), and stores
them with the record count. Weights that no longer read (an older layout, a damaged
row) are fitted again, never trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import structlog
from pydantic import BaseModel, ValidationError

from contactsync.matching.compare import LEVELS
from contactsync.matching.weights import DEFAULT_M, Weights

if TYPE_CHECKING:
    from contactsync.matching.matcher import PersonIndex


class WeightsStore(Protocol):
    """Where the engine keeps the fitted weights (the state; matching never imports it)."""

    def stored_match_weights(self) -> tuple[str, int] | None: ...

    def store_match_weights(self, weights_json: str, record_count: int) -> None: ...


log = structlog.get_logger(__name__)

# Refit once the index holds this many times the records the stored fit saw.
REFRESH_GROWTH = 1.2


class _StoredWeights(BaseModel):
    m: dict[str, dict[str, float]]
    u: dict[str, dict[str, float]]
    identifier_u: dict[str, float]  # "field:level" -> u
    matches_per_record: float
    partners: float
    prior_measured: bool
    birthday_personal: bool = False  # absent from weights stored before it existed


def weights_to_json(weights: Weights) -> str:
    stored = _StoredWeights(
        m=weights.m,
        u=weights.u,
        identifier_u={f"{name}:{level}": u for (name, level), u in weights.identifier_u.items()},
        matches_per_record=weights.matches_per_record,
        partners=weights.partners,
        prior_measured=weights.prior_measured,
        birthday_personal=weights.birthday_personal,
    )
    return stored.model_dump_json()


def weights_from_json(text: str) -> Weights | None:
    """The weights stored as ``text``, or None when they do not fit today's levels."""
    try:
        stored = _StoredWeights.model_validate_json(text)
    except ValidationError:
        return None
    if any(set(stored.m.get(name, {})) != set(DEFAULT_M[name]) for name in DEFAULT_M):
        return None  # the levels changed since: these weights describe other levels
    identifier_u = {}
    for key, value in stored.identifier_u.items():
        name, _, level = key.partition(":")
        if level not in LEVELS.get(name, ()):
            return None
        identifier_u[(name, level)] = value
    return Weights(
        m=stored.m,
        u=stored.u,
        matches_per_record=stored.matches_per_record,
        fitted=True,
        identifier_u=identifier_u,
        partners=stored.partners,
        prior_measured=stored.prior_measured,
        birthday_personal=stored.birthday_personal,
    )


def fit_or_load(index: PersonIndex, state: WeightsStore) -> str:
    """Give the index its weights (see the module docs); returns what was done:
    ``stored``, ``fitted`` or ``defaults`` (too little to learn from)."""
    stored = state.stored_match_weights()
    if stored is not None:
        text, count = stored
        weights = weights_from_json(text)
        if weights is not None and len(index) < count * REFRESH_GROWTH:
            index.use_weights(weights)
            return "stored"
    if not index.fit():
        return "defaults"
    state.store_match_weights(weights_to_json(index.weights), len(index))
    log.info("matcher weights fitted", records=len(index))
    return "fitted"
