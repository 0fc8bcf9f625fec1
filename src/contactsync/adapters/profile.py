"""A vendor's profile: everything contactsync knows of one system, declared by its adapter.

Each vendor subpackage (``contactsync.adapters.<vendor>``) exposes one
``VENDOR = VendorProfile(...)``; :mod:`contactsync.adapters.registry` lists them.
Everything vendor-specific hangs off it: the adapter class (with its strategy, its
conflict check, its unique fields), the settings model of its ``[systems.<name>]``
table, and what the http layer is told (budgets, bucket chooser, quota window,
what its bare statuses mean).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contactsync.adapters.base import Adapter
from contactsync.adapters.settings_base import SystemSettings
from contactsync.http.client import UNDOCUMENTED, BucketChooser, Budget, VendorHttp


@dataclass(frozen=True)
class VendorProfile:
    """One system: its name, its adapter, its settings and its http facts."""

    name: str
    adapter: type[Adapter]
    settings: type[SystemSettings]
    http: VendorHttp = UNDOCUMENTED

    def __post_init__(self) -> None:
        if not (self.adapter.system == self.settings.name == self.name):
            raise ValueError(
                f"vendor {self.name!r}: its adapter says {self.adapter.system!r} and its "
                f"settings {self.settings.name!r}"
            )

    @property
    def budgets(self) -> Mapping[str, Budget]:
        """The documented client-side budgets (none for an undocumented vendor)."""
        return self.http.budgets

    @property
    def bucket_for(self) -> BucketChooser:
        """The quota a request counts against, from (method, path)."""
        return self.http.bucket_for

    @property
    def quota_window(self) -> float | None:
        """Seconds a quota window lasts when the vendor's headers do not say."""
        return self.http.quota_window

    @property
    def error_hints(self) -> Mapping[int, str]:
        """What a bare status means at this vendor."""
        return self.http.status_hints

    @property
    def unique_fields(self) -> tuple[str, ...]:
        """Vendor payload fields only one record may hold a value of."""
        return self.adapter.unique_fields
