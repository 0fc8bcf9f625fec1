"""Logging: both renderers work and a registered secret never reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from contactsync.config.settings import load_settings
from contactsync.logs import (
    SecretRedactor,
    configure_logging,
    redact,
    redact_secrets,
    register_secret,
)

SECRET = "tok_5ecr3t-VALUE"
EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


class Holder:
    """An object whose repr carries a secret, like an httpx request with headers."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Holder(value={self.value!r})"


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    redact_secrets.clear()
    yield
    redact_secrets.clear()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def emit_everything(secret: str) -> None:
    log = structlog.get_logger("contactsync.test")
    log.info(
        f"connected with {secret}",
        header=f"Bearer {secret}",
        nested={"list": [f"x{secret}y", (1, secret)], secret: "as a key"},
        obj=Holder(secret),
        raw=secret.encode(),
    )
    try:
        raise RuntimeError(f"401 for token {secret}")
    except RuntimeError:
        log.exception("request failed")
    logging.getLogger("httpx").warning("GET https://host/?token=%s", secret)


def test_console_output_never_shows_a_secret() -> None:
    out = io.StringIO()
    configure_logging("console", secrets=[SECRET], stream=out)

    emit_everything(SECRET)

    text = out.getvalue()
    assert "connected with ***" in text
    assert "RuntimeError: 401 for token ***" in text
    assert "token=***" in text
    assert "Holder(value='***')" in text
    assert SECRET not in text


def test_json_output_never_shows_a_secret() -> None:
    out = io.StringIO()
    configure_logging("json", secrets=[SECRET], stream=out)

    emit_everything(SECRET)

    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == [
        "connected with ***",
        "request failed",
        "GET https://host/?token=***",
    ]
    assert events[0]["nested"]["list"][0] == "x***y"
    assert events[1]["exception"][0]["exc_value"] == "401 for token ***"
    assert events[2]["logger"] == "httpx"
    assert SECRET not in out.getvalue()


def test_secret_registered_at_run_time_is_redacted_too() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    access_token = "eyJhbGciOi.fetched.at-run-time"

    register_secret(access_token)
    structlog.get_logger().info("token refreshed", token=access_token)

    assert json.loads(out.getvalue())["token"] == "***"
    assert redact(f"error: {access_token} expired") == "error: *** expired"


def test_url_encoded_secret_is_redacted() -> None:
    register_secret("a b/c+d=e")
    assert redact("?t=a%20b%2Fc%2Bd%3De and ?t=a+b%2Fc%2Bd%3De") == "?t=*** and ?t=***"


def test_short_values_are_not_treated_as_secrets() -> None:
    register_secret("abc")
    assert redact("abc abc") == "abc abc"


def test_levels_filter_and_bad_arguments_are_refused() -> None:
    out = io.StringIO()
    configure_logging("console", level="warning", stream=out)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert "loud" in out.getvalue()
    assert "quiet" not in out.getvalue()
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="chatty")
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging("xml")  # type: ignore[arg-type]


def test_reconfiguring_replaces_the_stdlib_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("console", stream=first)
    configure_logging("json", stream=second)
    logging.getLogger("apscheduler").warning("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["event"] == "once"


def test_processor_scrubs_nested_values_and_keeps_the_rest() -> None:
    redactor = SecretRedactor([SECRET])
    event = {
        "event": "x",
        "count": 3,
        "items": [SECRET, {"k": (SECRET, None)}],
        "blob": b"pre" + SECRET.encode(),
        "ok": Holder("harmless"),
    }

    result = redactor(None, "info", event)

    assert result["items"] == ["***", {"k": ("***", None)}]
    assert result["blob"] == b"pre***"
    assert result["count"] == 3
    assert result["ok"] is event["ok"]  # objects without a secret are left alone


def test_settings_secrets_feed_the_redactor() -> None:
    env = {"TRACKOPS_USERNAME": "ops", "TRACKOPS_TOKEN": "trackops-api-token"}
    settings = load_settings(EXAMPLE, env=env)
    out = io.StringIO()

    configure_logging("json", secrets=settings.secret_values(), stream=out)
    structlog.get_logger().info("auth", password=env["TRACKOPS_TOKEN"])

    assert json.loads(out.getvalue())["password"] == "***"


@given(
    secret=st.text(alphabet="abcdefXYZ0123456789", min_size=4, max_size=12),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_redact_never_leaves_a_secret_behind(secret: str, before: str, after: str) -> None:
    redactor = SecretRedactor([secret])
    assert secret not in redactor.redact(before + secret + after + secret)


def test_scheduler_internals_are_debug_only_and_their_warnings_stay() -> None:
    out = io.StringIO()
    configure_logging("console", level="info", stream=out)
    logging.getLogger("apscheduler.scheduler").info("Added job 'sync' to job store")
    logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")
    assert "Added job" not in out.getvalue()
    assert "was missed" in out.getvalue()
    debug = io.StringIO()
    configure_logging("console", level="debug", stream=debug)
    logging.getLogger("apscheduler.scheduler").info("Added job 'sync' to job store")
    assert "Added job" in debug.getvalue()
