"""What Pylon documents about its rate limits: per organization, per endpoint, per minute.

The budgets come from its OpenAPI descriptions (list/get/create/update 60, search
20, delete 10 a minute); each endpoint is its own bucket (:func:`pylon_bucket`).
"""

from __future__ import annotations

from contactsync.http.client import Budget, VendorHttp, endpoint_bucket


def pylon_bucket(method: str, path: str) -> str:
    """Pylon's per-endpoint buckets; a contact id becomes ``{id}`` whatever it looks like."""
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "contacts" and len(parts) == 2 and parts[1] != "search":
        return f"{method.upper()} /contacts/{{id}}"
    return endpoint_bucket(method, path)


PYLON_BUDGETS: dict[str, Budget] = {
    "GET /contacts": Budget(60, 60.0),
    "POST /contacts": Budget(60, 60.0),
    "GET /contacts/{id}": Budget(60, 60.0),
    "PATCH /contacts/{id}": Budget(60, 60.0),
    "POST /contacts/search": Budget(20, 60.0),
    "DELETE /contacts/{id}": Budget(10, 60.0),
}
HTTP = VendorHttp(budgets=PYLON_BUDGETS, bucket_for=pylon_bucket)
