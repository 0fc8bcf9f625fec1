"""How an outbound value is fitted to what a target field can hold (mapping data).

An outbound rule may declare the longest value its vendor field takes and what to do
with a longer one::

    [[outbound]]
    from = "last_name"
    to = "last_name"
    max_length = 255      # characters the vendor field holds
    fit = "truncate"      # or "drop": leave the field out of the write
    marker = "…"          # truncate only: ends a cut value (default "…")

Fitting happens before the write is planned, so the plan, the write and the next
comparison all see the fitted value: a cut name is written once, and the record read
back (already short enough) maps out to the same value, so it is not planned again.
A value within the limit, or any non-text value, passes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

FIT_KEYS = ("max_length", "fit", "marker")
FitMode = Literal["truncate", "drop"]
FIT_MODES: tuple[FitMode, ...] = ("truncate", "drop")
DEFAULT_MARKER = "…"


@dataclass(frozen=True)
class FieldFit:
    """A field's limit and how to fit a longer value to it."""

    max_length: int
    mode: FitMode
    marker: str = DEFAULT_MARKER

    def apply(self, value: Any) -> Any:
        """``value`` fitted: text cut to ``max_length`` (ending in the marker) or None
        (drop); each element of a list fitted on its own; anything else as it is."""
        if isinstance(value, list):
            fitted = (self.apply(item) for item in value)
            return [item for item in fitted if item is not None]
        if not isinstance(value, str) or len(value) <= self.max_length:
            return value
        if self.mode == "drop":
            return None
        return value[: self.max_length - len(self.marker)].rstrip() + self.marker


def compile_fit(
    rule: dict[str, Any], line_of: Callable[[str], int], where: str
) -> tuple[FieldFit | None, list[tuple[int, str]]]:
    """The rule's :class:`FieldFit` (None when it declares none) and its problems as
    (line, message), for ``mappings check``."""
    if not any(key in rule for key in FIT_KEYS):
        return None, []
    problems: list[tuple[int, str]] = []
    max_length, mode, marker = rule.get("max_length"), rule.get("fit"), rule.get("marker")
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        line = line_of("max_length") if "max_length" in rule else line_of("fit")
        problems.append((line, f"{where}: max_length must be a whole number >= 1"))
    if mode not in FIT_MODES:
        line = line_of("fit") if "fit" in rule else line_of("max_length")
        shown = "missing" if mode is None else repr(mode)
        problems.append((line, f"{where}: fit is {shown}; expected one of truncate, drop"))
    if marker is not None:
        if mode != "truncate":
            problems.append((line_of("marker"), f"{where}: marker is only used by fit = truncate"))
        elif not isinstance(marker, str):
            problems.append((line_of("marker"), f"{where}: marker must be text"))
        elif isinstance(max_length, int) and len(marker) >= max_length:
            problems.append((line_of("marker"), f"{where}: marker must be shorter than max_length"))
    if problems:
        return None, problems
    assert isinstance(max_length, int)
    chosen: FitMode = "truncate" if mode == "truncate" else "drop"
    return FieldFit(max_length, chosen, DEFAULT_MARKER if marker is None else marker), []
