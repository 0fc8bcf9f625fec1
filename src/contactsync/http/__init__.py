"""HTTP for every adapter: one client factory with auth, throttle, retries and counters.

Errors are sorted once into retriable and fatal (:mod:`.errors`); a write is never
retried blindly. No vendor is named here: what a vendor documents (budgets, buckets,
quota window, status hints) comes in as a :class:`VendorHttp` its adapter declares.
"""

from contactsync.http.client import SystemClient, VendorHttp, build_client
from contactsync.http.errors import FatalError, RetriableError, SyncError

__all__ = [
    "FatalError",
    "RetriableError",
    "SyncError",
    "SystemClient",
    "VendorHttp",
    "build_client",
]
