"""Trackops: the adapter, its client (auth, limits, error hints), its settings; one VENDOR."""

from contactsync.adapters.profile import VendorProfile
from contactsync.adapters.trackops.adapter import TrackopsAdapter
from contactsync.adapters.trackops.client import HTTP
from contactsync.adapters.trackops.settings import TrackopsSettings

VENDOR = VendorProfile(
    name="trackops", adapter=TrackopsAdapter, settings=TrackopsSettings, http=HTTP
)

__all__ = ["VENDOR", "TrackopsAdapter", "TrackopsSettings"]
