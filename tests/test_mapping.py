"""Mapping behaviour: paths, transforms, inbound errors, outbound rendering."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from contactsync.mapping.mapper import Mapping, MappingError, load_mappings
from contactsync.mapping.paths import (
    MISSING,
    Index,
    Key,
    PathSyntaxError,
    PathTypeError,
    Select,
    format_path,
    parse_path,
    read_path,
    write_path,
)
from contactsync.mapping.transforms import (
    TransformContext,
    TransformError,
    get_transform,
    register_transform,
)
from contactsync.model.contact import (
    Contact,
    Email,
    FieldError,
    Organization,
    OrgChannel,
    Phone,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = Path(__file__).parent / "fixtures" / "vendor_examples"


@pytest.fixture(scope="module")
def mappings() -> dict[str, Mapping]:
    return load_mappings(ROOT / "mappings")


def record(system: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{system}.json").read_text())["record"]
    return {**loaded, **changes}


def only_error(errors: list[FieldError]) -> FieldError:
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# --- paths ---------------------------------------------------------------------------


def test_parse_path_understands_dots_indexes_and_selectors() -> None:
    steps = parse_path("external_ids[label=contactsync].external_id")
    assert steps == (Key("external_ids"), Select("label", "contactsync"), Key("external_id"))
    assert parse_path("a.b[2]") == (Key("a"), Key("b"), Index(2))
    assert format_path(steps) == "external_ids[label=contactsync].external_id"


@pytest.mark.parametrize("bad", ["", "a..b", "a[", "a[x]", "1abc", "a[=x]"])
def test_parse_path_rejects_malformed_paths(bad: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(bad)


def test_read_path_selector_skips_matches_without_the_field() -> None:
    person = {
        "contacts": [
            {"label": "work", "email": "w@example.com"},
            {"label": "work", "telephone": "+1 555 555 1234"},
        ]
    }
    assert read_path(person, parse_path("contacts[label=work].telephone")) == "+1 555 555 1234"
    assert read_path(person, parse_path("contacts[label=home].telephone")) is MISSING
    assert read_path(person, parse_path("contacts[5].email")) is MISSING
    assert read_path({"a": None}, parse_path("a.b")) is MISSING


def test_read_path_reports_a_wrong_shape() -> None:
    with pytest.raises(PathTypeError, match="expected an object at client"):
        read_path({"client": "Acme"}, parse_path("client.id"))
    with pytest.raises(PathTypeError, match="expected a list"):
        read_path({"external_ids": {"x": 1}}, parse_path("external_ids[label=a].external_id"))


def test_write_path_builds_nested_objects_and_selected_elements() -> None:
    payload: dict[str, Any] = {}
    write_path(payload, parse_path("home_address.city"), "Boston")
    write_path(payload, parse_path("external_ids[label=contactsync].external_id"), "p-1")
    write_path(payload, parse_path("external_ids[label=contactsync].note"), "ours")
    assert payload == {
        "home_address": {"city": "Boston"},
        "external_ids": [{"label": "contactsync", "external_id": "p-1", "note": "ours"}],
    }
    with pytest.raises(PathTypeError):
        write_path(payload, parse_path("home_address.city.name"), "x")


# --- transforms ----------------------------------------------------------------------


def run(name: str, subject: Any, direction: str = "inbound", **ctx: Any) -> Any:
    transform = get_transform(name)
    assert transform is not None
    function = transform.function(direction)  # type: ignore[arg-type]
    assert function is not None
    return function(subject, TransformContext(direction, **ctx))  # type: ignore[arg-type]


def test_e164_keeps_the_extension_and_uses_the_default_region() -> None:
    assert run("e164", "+1 404-555-5555 x501") == "+14045555555 x501"
    assert run("e164", "020 7123 4567", default_region="GB") == "+442071234567"
    with pytest.raises(TransformError, match="invalid phone '555-555-55555'"):
        run("e164", "555-555-55555")


def test_digits_for_pylon_both_ways() -> None:
    assert run("digits", "+14045555555 x501", "outbound") == "14045555555"
    assert run("digits", "+442071234567", "outbound") == "442071234567"
    assert run("digits", "14045555555") == "+14045555555"
    assert run("digits", "442071234567") == "+442071234567"  # no valid US reading
    assert run("digits", "4045555555") == "+14045555555"


def test_split_name_and_join_name() -> None:
    assert run("split_name", "Susie B Smith", arg="first") == "Susie"
    assert run("split_name", "Susie B Smith", arg="middle") == "B"
    assert run("split_name", "Smith, Susie", arg="last") == "Smith"
    assert run("split_name", "Cher", arg="last") is None
    parts = {"full_name": None, "first_name": "Ada", "middle_name": None, "last_name": "Byron"}
    assert run("join_name", parts, "outbound") == "Ada Byron"
    assert run("join_name", {**parts, "full_name": "Ada, Countess"}, "outbound") == "Ada, Countess"


def test_iso_datetime_reads_every_vendor_form_as_utc_and_formats_per_style() -> None:
    expected = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
    assert run("iso_datetime", "2026-06-15T09:30:00.000000Z") == expected
    assert run("iso_datetime", "2026-06-15T03:30:00-06:00") == expected
    assert run("iso_datetime", "2026-06-15 09:30:00") == expected  # naive = UTC
    with pytest.raises(TransformError, match="invalid timestamp 'last tuesday'"):
        run("iso_datetime", "last tuesday")
    assert run("iso_datetime", expected, "outbound") == "2026-06-15T09:30:00Z"
    micro = run("iso_datetime", expected, "outbound", arg="z_micro")
    assert micro == "2026-06-15T09:30:00.000000Z"
    assert run("iso_datetime", expected, "outbound", arg="offset") == "2026-06-15T09:30:00+00:00"


def test_date_is_strict_yyyy_mm_dd() -> None:
    assert run("date", "1979-01-01") == date(1979, 1, 1)
    assert run("date", date(1979, 1, 1), "outbound") == "1979-01-01"
    for bad in ("01/01/1979", "1979-02-30"):
        with pytest.raises(TransformError, match="invalid date"):
            run("date", bad)


def test_enum_tables_in_and_out() -> None:
    enums = {"status": {"active": "active", "duplicate": "inactive", "inactive": "inactive"}}
    assert run("enum", "duplicate", arg="status", enums=enums) == "inactive"
    assert run("enum", "inactive", "outbound", arg="status", enums=enums) == "duplicate"
    with pytest.raises(TransformError, match="unknown status value 'archived'"):
        run("enum", "archived", arg="status", enums=enums)
    with pytest.raises(TransformError, match="no status value is mapped to 'deleted'"):
        run("enum", "deleted", "outbound", arg="status", enums=enums)
    booleans = {"flag": {"false": "active", "true": "inactive"}}
    assert run("enum", True, arg="flag", enums=booleans) == "inactive"


def test_small_transforms() -> None:
    assert run("bool_yes_no", "Yes") is True
    assert run("bool_yes_no", False, "outbound") == "no"
    assert run("integer", "12345", "outbound") == 12345
    with pytest.raises(TransformError, match="whole number"):
        run("integer", "12a", "outbound")
    assert run("constant", "p-1", "outbound", value="contactsync") == "contactsync"
    assert run("strip", "  Susie ") == "Susie"
    assert run("upper", "us") == "US"
    with pytest.raises(TransformError, match="expected text, got an object"):
        run("strip", {"first": "Susie"})


def test_registered_transform_is_usable_from_a_mapping_file() -> None:
    register_transform("test_reverse", lambda value, ctx: str(value)[::-1])
    mapping = Mapping.from_text(
        'system = "pylon"\nversion = 1\n'
        '[[inbound]]\nfrom = "name"\nto = "full_name"\ntransforms = ["test_reverse"]\n'
    )
    contact, errors = mapping.inbound({"name": "adA"})
    assert errors == []
    assert contact is not None
    assert contact.full_name == "Ada"


def test_a_custom_transform_failing_is_a_field_error_not_a_crash() -> None:
    def explode(value: Any, ctx: TransformContext) -> Any:
        raise ValueError(f"cannot read {value!r}")

    register_transform("test_explode", explode)
    mapping = Mapping.from_text(
        'system = "pylon"\nversion = 1\n'
        '[[inbound]]\nfrom = "name"\nto = "full_name"\ntransforms = ["test_explode"]\n'
        '[[outbound]]\nfrom = "full_name"\nto = "name"\ntransforms = ["test_explode"]\n'
    )
    contact, errors = mapping.inbound({"name": "Ada"})
    assert contact is None
    assert str(only_error(errors)) == "name -> full_name: cannot read 'Ada' (got 'Ada')"
    payload, errors = mapping.outbound_checked(Contact(full_name="Ada"))
    assert payload == {}
    assert only_error(errors).field == "full_name -> name"


# --- inbound errors: a bad value costs that value, not the record ----------------------


def test_bad_email_names_vendor_and_canonical_field(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["trackops"].inbound(record("trackops", email="x@"))
    assert contact is not None  # the record is kept without the bad value
    assert contact.last_name == "Smith"
    assert "x@" not in [e.address for e in contact.emails]
    error = only_error(errors)
    assert error.field == "email -> emails"
    assert "invalid email 'x@'" in error.message


def test_the_trackops_doc_example_home_phone_is_rejected(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["trackops"].inbound(record("trackops", phone_home="555-555-55555"))
    assert contact is not None
    assert contact.phones  # the others are kept
    assert all(p.type != "home" for p in contact.phones)
    assert str(only_error(errors)).startswith("phone_home -> phones: invalid phone '555-555-55555'")


def test_unparseable_dates(mappings: dict[str, Mapping]) -> None:
    _, errors = mappings["trackops"].inbound(record("trackops", birthday="01/01/1979"))
    assert only_error(errors).field == "birthday -> birthday"
    bad_dates = {"created": "x", "updated": "yesterday"}
    contact, errors = mappings["growcrm"].inbound(record("growcrm", dates=bad_dates))
    assert contact is not None
    assert contact.updated_at is None
    assert only_error(errors).field == "dates.updated -> updated_at"
    assert "'yesterday'" in errors[0].message


def test_wrong_types(mappings: dict[str, Mapping]) -> None:
    _, errors = mappings["trackops"].inbound(record("trackops", first_name={"given": "Susie"}))
    error = only_error(errors)
    assert error.field == "first_name -> first_name"
    assert "expected text, got an object" in error.message
    _, errors = mappings["growcrm"].inbound(record("growcrm", client="Acme"))
    assert {e.field for e in errors} == {
        "client.id -> organization.ref",
        "client.company_name -> organization.name",
    }
    assert all("expected an object at client" in e.message for e in errors)
    _, errors = mappings["pylon"].inbound(record("pylon", phone_numbers=[{"n": 1}]))
    assert only_error(errors).field == "phone_numbers -> phones"


def test_unknown_enum_value_is_named(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["rhythm"].inbound(record("rhythm", status="archived"))
    assert contact is not None
    assert contact.status == "active"  # the unknown value is left out: the default stays
    error = only_error(errors)
    assert error.field == "status -> status"
    assert "unknown status value 'archived'" in error.message


def test_a_nameless_record_with_an_email_is_still_somebody(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["pylon"].inbound(record("pylon", name=None))
    assert errors == []
    assert contact is not None
    assert contact.emails


def test_missing_identity_is_reported_against_the_name_fields(
    mappings: dict[str, Mapping],
) -> None:
    nothing = {"email": None, "emails": [], "phone_numbers": [], "primary_phone_number": None}
    contact, errors = mappings["pylon"].inbound(
        record("pylon", name=None, external_ids=[], **nothing)
    )
    assert contact is None
    error = only_error(errors)
    assert error.field.startswith("name -> full_name/first_name")
    assert "needs a name" in error.message
    nameless = record(
        "trackops",
        first_name="",
        middle_name=None,
        last_name="  ",
        email=None,
        phone_home=None,
        phone_mobile=None,
        phone_office=None,
        phone_fax=None,
        account_code=None,
        client_contact_code=None,
    )
    _, errors = mappings["trackops"].inbound(nameless)
    assert only_error(errors).field == (
        "first_name, middle_name, last_name -> first_name/middle_name/last_name"
    )


def test_model_validation_errors_are_renamed_after_the_vendor_field(
    mappings: dict[str, Mapping],
) -> None:
    contact, errors = mappings["trackops"].inbound(
        record("trackops", language="english", country="USA")
    )
    assert {e.field for e in errors} == {"language -> language", "country -> address.country"}
    assert contact is not None  # both values left out, the rest kept
    assert contact.language is None
    assert contact.address is not None
    assert contact.address.country is None
    assert contact.address.city


def test_every_error_is_reported_not_just_the_first(mappings: dict[str, Mapping]) -> None:
    bad = record("trackops", email="x@", phone_fax="call me", birthday="soon")
    _, errors = mappings["trackops"].inbound(bad)
    assert [e.field for e in errors] == [
        "email -> emails",
        "phone_fax -> phones",
        "birthday -> birthday",
    ]


def test_missing_and_null_fields_are_not_errors(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["trackops"].inbound({"last_name": "Smith", "email": None, "zip": ""})
    assert errors == []
    assert contact is not None
    assert contact.last_name == "Smith"
    assert contact.emails == []
    assert contact.address is None


def test_a_non_object_record_is_an_error_not_a_crash(mappings: dict[str, Mapping]) -> None:
    contact, errors = mappings["growcrm"].inbound(["not", "a", "record"])  # type: ignore[arg-type]
    assert contact is None
    assert only_error(errors).field == "(record)"


def test_duplicate_emails_collapse_and_primary_stays_first(mappings: dict[str, Mapping]) -> None:
    pylon = record("pylon", email="ADA@analytical.example")
    contact, _ = mappings["pylon"].inbound(pylon)
    assert contact is not None
    assert [e.address for e in contact.emails] == [
        "ada@analytical.example",
        "a.lovelace@engines.example",
    ]


def test_xurrent_source_id_is_ours_only_when_source_is_contactsync(
    mappings: dict[str, Mapping],
) -> None:
    contact, _ = mappings["xurrent"].inbound(record("xurrent", source="okta", sourceID="00u1"))
    assert contact is not None
    assert contact.sync_id is None
    contact, _ = mappings["xurrent"].inbound(record("xurrent", disabled=True))
    assert contact is not None
    assert contact.status == "inactive"


def test_rhythm_reads_work_address_only_without_a_home_address(
    mappings: dict[str, Mapping],
) -> None:
    contact, _ = mappings["rhythm"].inbound(record("rhythm", home_address=None))
    assert contact is not None
    assert contact.address is not None
    assert contact.address.lines == ["1 Harbor Way"]
    assert contact.address.postal_code == "02110"


# --- outbound ------------------------------------------------------------------------


def susie(**changes: Any) -> Contact:
    base: dict[str, Any] = {
        "first_name": "Susie",
        "last_name": "Smith",
        "emails": [Email(address="susie@example.com", type="work")],
        "sync_id": "p-1",
    }
    return Contact(**{**base, **changes})


def test_outbound_omits_empty_values(mappings: dict[str, Mapping]) -> None:
    payload = mappings["trackops"].outbound(susie())
    assert payload == {
        "first_name": "Susie",
        "last_name": "Smith",
        "email": "susie@example.com",
        "account_code": "p-1",
    }


def test_outbound_falls_back_to_the_organizations_general_telephone(
    mappings: dict[str, Mapping],
) -> None:
    org = Organization(
        name="Acme",
        channels=[
            OrgChannel(label="general", email="info@acme.example"),
            OrgChannel(label="general", telephone="+1 (203) 413 4880"),
        ],
    )
    payload = mappings["trackops"].outbound(susie(organization=org))
    assert payload["phone_office"] == "+12034134880"
    own = Phone(number="+14045550100", type="work")
    payload = mappings["trackops"].outbound(susie(organization=org, phones=[own]))
    assert payload["phone_office"] == "+14045550100"


def test_outbound_name_prefers_the_full_name(mappings: dict[str, Mapping]) -> None:
    assert mappings["pylon"].outbound(susie())["name"] == "Susie Smith"
    assert mappings["xurrent"].outbound(susie(full_name="Susie B. Smith"))["name"] == (
        "Susie B. Smith"
    )


def test_outbound_xurrent_status_and_source_stamp(mappings: dict[str, Mapping]) -> None:
    payload = mappings["xurrent"].outbound(susie(status="inactive"))
    assert payload["disabled"] is True
    assert payload["source"] == "contactsync"
    assert payload["sourceID"] == "p-1"
    assert "source" not in mappings["xurrent"].outbound(susie(sync_id=None))


def test_outbound_value_without_vendor_equivalent_is_reported_and_left_out(
    mappings: dict[str, Mapping],
) -> None:
    payload, errors = mappings["rhythm"].outbound_checked(susie(status="deleted"))
    assert "status" not in payload
    assert only_error(errors).field == "status -> status"
    assert mappings["rhythm"].outbound(susie(status="deleted"))["first_name"] == "Susie"


def test_outbound_uses_only_this_systems_organization_ref(mappings: dict[str, Mapping]) -> None:
    org = Organization(refs={"trackops": "12345", "pylon": "acc_1"})
    assert mappings["trackops"].outbound(susie(organization=org))["client_id"] == 12345
    assert mappings["pylon"].outbound(susie(organization=org))["account_id"] == "acc_1"
    assert "organization_id" not in mappings["xurrent"].outbound(susie(organization=org))


def test_load_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pylon.toml"
    path.write_text('system = "pylon"\nversion = 1\n\n[[inbound]]\nfrom = "name"\nto = "nmae"\n')
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    assert str(caught.value).startswith(f"{path}:6: inbound rule 1: unknown canonical field 'nmae'")
