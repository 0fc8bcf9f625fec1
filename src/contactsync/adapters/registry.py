"""The systems contactsync knows: one :class:`~contactsync.adapters.profile.VendorProfile`
per vendor subpackage, in the canonical order (also the default priority order).

Adding a system is adding its subpackage and one line here. Everything that lists
the systems derives from :data:`VENDORS`: :data:`SYSTEMS`, the ``[systems]`` table of
the config (:mod:`contactsync.config.systems`), the adapters the engine opens.
"""

from __future__ import annotations

from contactsync.adapters import growcrm, pylon, rhythm, trackops, xurrent
from contactsync.adapters.base import Adapter
from contactsync.adapters.profile import VendorProfile

VENDORS: tuple[VendorProfile, ...] = (
    trackops.VENDOR,
    growcrm.VENDOR,
    rhythm.VENDOR,
    pylon.VENDOR,
    xurrent.VENDOR,
)
#: the names of the known systems, in the canonical order
SYSTEMS: tuple[str, ...] = tuple(profile.name for profile in VENDORS)
_BY_NAME: dict[str, VendorProfile] = {profile.name: profile for profile in VENDORS}


def vendor(system: str) -> VendorProfile:
    """The profile of ``system``; a ``KeyError`` naming the known ones otherwise."""
    try:
        return _BY_NAME[system]
    except KeyError:
        raise KeyError(f"no adapter for system {system!r}; known: {', '.join(SYSTEMS)}") from None


def adapter_class(system: str) -> type[Adapter]:
    """The adapter class registered for ``system``."""
    return vendor(system).adapter


__all__ = ["SYSTEMS", "VENDORS", "VendorProfile", "adapter_class", "vendor"]
