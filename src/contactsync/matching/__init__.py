"""The matcher: who is who among the records of all systems.

Normalise, block, compare (graded levels per field), weigh (Fellegi-Sunter, weights
estimated on the data without labels), cluster. One model serves both the batch
(:func:`cluster`, used by ``match-file``) and the engine's incremental
:class:`PersonIndex`.
"""

from contactsync.matching.matcher import MatchConfig, PersonIndex, cluster

__all__ = ["MatchConfig", "PersonIndex", "cluster"]
