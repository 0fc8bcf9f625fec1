"""Rhythm: the adapter, its client (auth, limits, error hints), its settings; one VENDOR."""

from contactsync.adapters.profile import VendorProfile
from contactsync.adapters.rhythm.adapter import RhythmAdapter
from contactsync.adapters.rhythm.client import HTTP
from contactsync.adapters.rhythm.settings import RhythmSettings

VENDOR = VendorProfile(name="rhythm", adapter=RhythmAdapter, settings=RhythmSettings, http=HTTP)

__all__ = ["VENDOR", "RhythmAdapter", "RhythmSettings"]
