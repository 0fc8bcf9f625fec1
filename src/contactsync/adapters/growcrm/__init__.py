"""Growcrm: the adapter, its client (auth, limits, error hints), its settings; one VENDOR."""

from contactsync.adapters.growcrm.adapter import GrowcrmAdapter
from contactsync.adapters.growcrm.client import HTTP
from contactsync.adapters.growcrm.settings import GrowcrmSettings
from contactsync.adapters.profile import VendorProfile

VENDOR = VendorProfile(name="growcrm", adapter=GrowcrmAdapter, settings=GrowcrmSettings, http=HTTP)

__all__ = ["VENDOR", "GrowcrmAdapter", "GrowcrmSettings"]
