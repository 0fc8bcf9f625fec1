"""The canonical model every system is mapped into and out of, and the one time helper.

Bottom layer: imports nothing else of contactsync. ``Contact`` is what an adapter's
record becomes through its mapping; ``Action`` is what the planner asks a loader to
do; ``RunSummary`` is what a pass reports about itself.
"""

from contactsync.model.contact import (
    Action,
    ActionKind,
    Address,
    Contact,
    Email,
    FieldChange,
    Organization,
    Phone,
    content_hash,
)
from contactsync.model.run_summary import RunSummary, SystemCounts
from contactsync.model.time import as_utc, utc_now

__all__ = [
    "Action",
    "ActionKind",
    "Address",
    "Contact",
    "Email",
    "FieldChange",
    "Organization",
    "Phone",
    "RunSummary",
    "SystemCounts",
    "as_utc",
    "content_hash",
    "utc_now",
]
