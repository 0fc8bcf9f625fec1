"""HTTP for every adapter: one client factory with auth, throttle, retries and counters.

Errors are sorted once into retriable and fatal (:mod:`.errors`); a write is never
retried blindly.
"""

from contactsync.http.client import SystemClient, build_client
from contactsync.http.errors import FatalError, RetriableError, SyncError

__all__ = ["FatalError", "RetriableError", "SyncError", "SystemClient", "build_client"]
