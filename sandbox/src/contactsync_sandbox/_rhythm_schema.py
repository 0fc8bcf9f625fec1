"""Rhythm Rolodex contact schema: what a write may carry, and what the server computes.

The field list is the documented contact schema (api-docs/rhythm-rolodex-contacts.txt).
Writes are validated strictly (types, enums, date formats, no unknown fields) and the
server then sets ``id``, the audit ``sys_*`` fields and the derived fields itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PhoneType = Literal["mobile", "home", "work", "work mobile", "alternate", "school", "fax"]
AddressType = Literal["home", "work", "school", "alternate"]
Status = Literal["active", "duplicate", "deceased", "inactive"]

STATUSES: tuple[str, ...] = ("active", "duplicate", "deceased", "inactive")

PHONE_FIELD_BY_TYPE: dict[str, str] = {
    "mobile": "mobile_phone_number",
    "home": "home_phone_number",
    "work": "work_phone_number",
    "work mobile": "work_mobile_phone_number",
    "school": "school_phone_number",
    "fax": "fax_phone_number",
}
ADDRESS_FIELD_BY_TYPE: dict[str, str] = {
    "home": "home_address",
    "work": "work_address",
    "school": "school_address",
}
# (assumed) with no preference sent, the server prefers the first of these that is filled
DEFAULT_PHONE_PREFERENCE: tuple[str, ...] = ("mobile", "work", "home")
DEFAULT_ADDRESS_PREFERENCE: tuple[str, ...] = ("home", "work")

# Audit fields the server owns: ignored in a write body (assumed), set by the server.
# ``sys_external_id`` is the exception: it exists to carry an id from another system.
CLIENT_WRITABLE_SYS_FIELDS: frozenset[str] = frozenset({"sys_external_id"})
# Fields the server derives from others on every write; a value sent for them is ignored.
DERIVED_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "full_name",
        "name_last_first",
        "contact_roles",
        "number",
        "preferred_phone_number",
        "preferred_phone_number_type_id",
        "preferred_address",
        "preferred_address_type_id",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RhythmAddress(_Strict):
    """(assumed) The excerpt documents an address only as "A complete address"."""

    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class RhythmContactBody(_Strict):
    """Every documented contact field, all optional in a write (the server fills the rest)."""

    id: str | None = Field(default=None, pattern=r"^[\w|-]+$")
    number: float | None = None
    date_profile_last_updated: datetime | None = None
    name: str | None = None
    full_name: str | None = None
    name_last_first: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    new_organization_info: dict[str, Any] | None = None
    contact_role_ids: list[str] | None = None
    contact_roles: str | None = None
    job_title: str | None = None
    prefix: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    maiden_name: str | None = None
    nickname: str | None = None
    link_work_address_to_organization: bool | None = None
    link_work_phone_number_to_organization: bool | None = None
    suffix: str | None = None
    credentials: str | None = None
    email_address: str | None = None
    email_address2: str | None = None
    email_address3: str | None = None
    mobile_phone_number: str | None = None
    work_mobile_phone_number: str | None = None
    spouse_id: str | None = None
    home_phone_number: str | None = None
    work_phone_number: str | None = None
    fax_phone_number: str | None = None
    school_phone_number: str | None = None
    preferred_phone_number: str | None = None
    preferred_phone_number_type: PhoneType | None = None
    preferred_phone_number_type_id: str | None = None
    other_phone_numbers: list[dict[str, Any]] | None = None
    home_address: RhythmAddress | None = None
    work_address: RhythmAddress | None = None
    school_address: RhythmAddress | None = None
    seasonal_address: RhythmAddress | None = None
    seasonal_address_start: datetime | None = None
    seasonal_address_end: datetime | None = None
    other_addresses: list[dict[str, Any]] | None = None
    preferred_address: RhythmAddress | None = None
    preferred_address_type: AddressType | None = None
    preferred_address_type_id: str | None = None
    image_url: str | None = None
    gender: Literal["male", "female"] | None = None
    pronouns: str | None = None
    date_of_birth: date | None = None
    date_of_death: datetime | None = None
    date_social_profile_last_updated: date | None = None
    notes: str | None = None
    status: Status | None = None
    organization_history: list[dict[str, Any]] | None = None
    facebook: str | None = None
    twitter: str | None = None
    instagram: str | None = None
    linked_in: str | None = None
    user_ids: list[str] | None = None
    merged_ids: list[str] | None = None
    custom_field_values: list[dict[str, Any]] | None = None
    origin_service: str | None = None
    origin_service_record_id: str | None = None
    do_not_mail: bool | None = None
    do_not_call: bool | None = None
    email_opt_out: bool | None = None
    communication_preferences: list[dict[str, Any]] | None = None
    communication_preferences_last_confirmed: datetime | None = None
    portal_delegates: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    sys_deleted_by_id: str | None = None
    sys_version: float | None = None
    sys_created_at: datetime | None = None
    sys_last_modified_at: datetime | None = None
    sys_created_by_id: str | None = None
    sys_last_modified_by_id: str | None = None
    sys_external_id: str | None = None
    sys_locked: bool | None = None
    sys_bulk_load_pk: str | None = None
    sys_bulk_load_at: str | None = None
    sys_bulk_load_id: str | None = None
    sys_bulk_load_record_no: float | None = None
    sys_bulk_load_source_file: str | None = None
    sys_last_bulk_data_operation_id: str | None = None
    sys_last_bulk_data_operation_sys_version: str | None = None
    sys_directive: str | None = None
    sys_calculated_field_error: str | None = None
    sys_snapshot_base_version: float | None = None
    sys_has_files_in_s3: bool | None = None
    sys_configuration_snapshot_id: str | None = None
    sys_last_security_context: dict[str, Any] | None = None
    sys_calculated_field_errors: list[dict[str, Any]] | None = None


class RhythmSearchBody(_Strict):
    """The documented search filters; every one is optional and they combine with AND."""

    ids: list[str] | None = None
    status: list[str] | None = None
    first_name: str | None = None
    last_name: str | None = None
    contact_role_id: str | None = None
    email_address: str | None = None
    organization_name: str | None = None
    nickname: str | None = None
    number: list[float] | None = None
    organization_id: list[str] | None = None
    job_title: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


def is_valid_contact(body: dict[str, Any]) -> bool:
    """True when ``body`` matches the contact schema (validated as JSON, like the wire)."""
    try:
        RhythmContactBody.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


def parse_search(body: Any) -> RhythmSearchBody | None:
    """The search filters, or None when the body is not a valid filter object."""
    if not isinstance(body, dict):
        return None
    try:
        return RhythmSearchBody.model_validate_json(json.dumps(body))
    except ValidationError:
        return None


def person_fields(body: dict[str, Any]) -> dict[str, Any]:
    """What a write body contributes to the stored record: its non-null, non-server fields."""
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if value is None or key == "id" or key in DERIVED_FIELDS:
            continue
        if key.startswith("sys_") and key not in CLIENT_WRITABLE_SYS_FIELDS:
            continue
        kept[key] = value
    return kept


def _joined(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())


def derive_fields(record: dict[str, Any], organizations: dict[str, str]) -> None:
    """Set the fields the server computes: names, organization name, preferences."""
    first, middle, last = (record.get(k) for k in ("first_name", "middle_name", "last_name"))
    given = _joined(first, middle)
    # (assumed) name = "First Last"; full_name adds prefix, middle and suffix;
    # name_last_first = "Last, First Middle"
    name = _joined(first, last)
    if name:
        record["name"] = name
        record["full_name"] = _joined(
            record.get("prefix"), first, middle, last, record.get("suffix")
        )
        record["name_last_first"] = f"{last}, {given}" if last and given else _joined(last, given)
    org_id = record.get("organization_id")
    if isinstance(org_id, str) and org_id in organizations:
        record["organization_name"] = organizations[org_id]
    _derive_preferred_phone(record)
    _derive_preferred_address(record)


def _derive_preferred_phone(record: dict[str, Any]) -> None:
    kind = record.get("preferred_phone_number_type")
    if not record.get(PHONE_FIELD_BY_TYPE.get(kind or "", "")):
        # (assumed) a preference for an empty slot falls back to the first filled one
        kind = next(
            (k for k in DEFAULT_PHONE_PREFERENCE if record.get(PHONE_FIELD_BY_TYPE[k])), kind
        )
    field = PHONE_FIELD_BY_TYPE.get(kind or "")
    number = record.get(field) if field else None
    if kind is not None and number:
        record["preferred_phone_number_type"] = kind
        record["preferred_phone_number"] = number
    else:
        record.pop("preferred_phone_number", None)
    # (assumed) required in the schema: the type's id, or "" when there is none
    record["preferred_phone_number_type_id"] = kind if kind and number else ""


def _derive_preferred_address(record: dict[str, Any]) -> None:
    kind = record.get("preferred_address_type")
    if not record.get(ADDRESS_FIELD_BY_TYPE.get(kind or "", "")):
        kind = next(
            (k for k in DEFAULT_ADDRESS_PREFERENCE if record.get(ADDRESS_FIELD_BY_TYPE[k])), kind
        )
    field = ADDRESS_FIELD_BY_TYPE.get(kind or "")
    address = record.get(field) if field else None
    if kind is not None and address:
        record["preferred_address_type"] = kind
        record["preferred_address"] = dict(address)
    else:
        record.pop("preferred_address", None)
    record["preferred_address_type_id"] = kind if kind and address else ""


def project(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Only the comma-separated ``fields`` of ``record`` (unknown names are skipped), or all."""
    if not fields:
        return record
    wanted = {name.strip() for name in fields.split(",") if name.strip()}
    return {key: value for key, value in record.items() if key in wanted}
