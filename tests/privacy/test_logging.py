"""The redacting log filter: messages, arguments, exceptions and extra fields, on every logger."""

from __future__ import annotations

import io
import json
import logging

import pytest

from privacy.logging import LOGGERS, RedactingFilter, install_redacting_filter, redact_log_text

IDENTIFIERS = {
    "email": "jane.doe@mercy-health.org",
    "ssn": "123-45-6789",
    "phone": "(617) 555-0134",
    "card": "4111 1111 1111 1111",
    "card_compact": "4111111111111111",
    "account": "000123456789",
    "iban": "GB82WEST12345698765432",
    "ip": "203.0.113.7",
    "dob": "03/14/1961",
    "mrn": "MRN: A1234567",
    "doctor": "Dr. Ana Ruiz",
    "bearer": "Bearer sk-live-abcdefghijklmnop1234",
}


class JsonFormatter(logging.Formatter):
    """Stands in for the lead's structured formatter: message, exception, extras as JSON."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"logger": record.name, "msg": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        if hasattr(record, "detail"):
            payload["detail"] = record.detail
        return json.dumps(payload)


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    # Importing Ray or running uvicorn in an earlier test (in this process) sets these loggers
    # to not propagate, with handlers of their own; make them reach this capture again.
    loggers = [logging.getLogger(name) for name in LOGGERS]
    propagate = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.propagate = True
    install_redacting_filter()
    yield stream
    for logger, old in zip(loggers, propagate, strict=True):
        logger.propagate = old
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.parametrize("kind", list(IDENTIFIERS))
def test_fast_path_removes_each_identifier(kind: str) -> None:
    value = IDENTIFIERS[kind]
    out = redact_log_text(f"request failed for {value} at step 3")
    assert value not in out
    assert "request failed for" in out and "at step 3" in out


def test_fast_path_leaves_operational_text_alone() -> None:
    line = (
        "GET /v1/chat/completions 200 in 35 ms request_id=550e8400-e29b-41d4-a716-446655440000 "
        "from 127.0.0.1:53122 tokens=512"
    )
    assert redact_log_text(line) == line


@pytest.mark.parametrize("name", ["", *LOGGERS, "uvicorn.error.child"])
def test_every_logger_is_redacted(captured: io.StringIO, name: str) -> None:
    logging.getLogger(name).warning("patient %s, ssn %s", IDENTIFIERS["email"], IDENTIFIERS["ssn"])
    out = captured.getvalue()
    assert out and IDENTIFIERS["email"] not in out and IDENTIFIERS["ssn"] not in out
    assert "<EMAIL>" in out and "<SSN>" in out


def test_exception_text_and_extra_fields(captured: io.StringIO) -> None:
    log = logging.getLogger("bastion.test")
    try:
        raise ValueError(f"bad card {IDENTIFIERS['card']}")
    except ValueError:
        log.exception("failed", extra={"detail": {"who": IDENTIFIERS["email"]}})
    out = captured.getvalue()
    assert "ValueError" in out and "Traceback" in out
    assert IDENTIFIERS["card"] not in out and IDENTIFIERS["email"] not in out


def test_install_is_idempotent() -> None:
    install_redacting_filter()
    install_redacting_filter()
    for name in LOGGERS:
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RedactingFilter)]
        assert len(filters) == 1


def test_uvicorn_style_handler_without_propagation() -> None:
    stream = io.StringIO()
    access = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler(stream)
    access.addHandler(handler)
    access.propagate, old = False, access.propagate
    access.setLevel(logging.INFO)
    try:
        install_redacting_filter()
        access.info('%s - "GET /v1/models HTTP/1.1" 200', "203.0.113.7:5123")
        assert "203.0.113.7" not in stream.getvalue()
        assert "GET /v1/models" in stream.getvalue()
    finally:
        access.removeHandler(handler)
        access.propagate = old


def test_with_redactor_names_are_removed(redactor) -> None:
    f = RedactingFilter(redactor)
    record = logging.LogRecord(
        "bastion", logging.INFO, __file__, 1, "note about %s", ("Pt John Carter",), None
    )
    f.filter(record)
    assert "John Carter" not in record.getMessage()
