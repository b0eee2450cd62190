"""Redaction: masking rule, every encoded form, logging and exception text."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote, quote_plus

import pytest

from devtrack.redact import MASK, RedactingFilter, Redactor, format_exception, mask, redactor


def test_mask_rule() -> None:
    assert mask("abcdefghijkl") == "abcd••••ijkl"
    assert mask("123456789") == "1234••••6789"
    assert mask("12345678") == MASK
    assert mask("ab") == MASK
    assert mask("") == ""


def test_all_forms_are_masked() -> None:
    r = Redactor()
    secret = "s3cr3t/with+chars=&?"
    r.add(secret)
    for form in (secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode()):
        assert form not in r(f"before {form} after")
    basic = base64.b64encode(f"me@example.com:{secret}".encode()).decode()
    assert basic not in r(f"Authorization: Basic {basic}")
    r2 = Redactor()
    r2.add_basic("me@example.com", "upstash-key-123")
    assert base64.b64encode(b"me@example.com:upstash-key-123").decode() not in r2("Basic " + base64.b64encode(b"me@example.com:upstash-key-123").decode())


def test_prefix_secret_does_not_leave_tail() -> None:
    r = Redactor()
    r.add("abcd1234", "abcd1234efgh5678")
    out = r("token=abcd1234efgh5678")
    assert "efgh" not in out and "5678" not in out


def test_logging_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    secret = "log-secret-0123456789"
    redactor.add(secret)
    logger = logging.getLogger("devtrack.test.redact")
    handler_filter = RedactingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        logger.error("token is %s", secret)
        try:
            raise ValueError(f"bad token {secret}")
        except ValueError:
            logger.exception("failed")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert secret not in caplog.text
    assert "token is" in caplog.text and "ValueError" in caplog.text


def test_exception_formatter() -> None:
    secret = "exc-secret-0123456789"
    redactor.add(secret)
    try:
        raise RuntimeError(f"https://api.example.com/?key={quote(secret)}")
    except RuntimeError as exc:
        text = format_exception(exc)
    assert secret not in text and quote(secret) not in text and MASK in text


def _record(msg: str, args: object) -> logging.LogRecord:
    return logging.LogRecord("devtrack.test.redact", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_logging_filter_keeps_the_arguments_shape_for_formatters_that_read_them() -> None:
    """uvicorn's access formatter unpacks the record's five arguments itself; masked arguments
    must stay a tuple (a dict stays a dict) or every request line is lost to a Logging error."""
    from uvicorn.logging import AccessFormatter

    secret = "access-log-secret-4f3e2d1c"
    redactor.add(secret)
    record = _record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", f"/api/v1/views/ai?key={secret}", "1.1", 200))
    assert RedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5 and record.args[4] == 200
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == f'127.0.0.1:5000 - "GET /api/v1/views/ai?key={MASK} HTTP/1.1" 200 OK'
    mapping = _record("user %(name)s token %(token)s", ({"name": "ada", "token": secret},))
    RedactingFilter().filter(mapping)
    assert mapping.args == {"name": "ada", "token": MASK}
    assert mapping.getMessage() == f"user ada token {MASK}"


def test_logging_filter_masks_a_secret_the_arguments_alone_do_not_show() -> None:
    """A secret split between the format string and an argument, or a masked number that no
    longer fits its ``%d``: the line is kept as masked text."""
    redactor.add("split-secret-9a8b7c6d", "314159265358")
    split = _record("token split-secret-%s", ("9a8b7c6d",))
    RedactingFilter().filter(split)
    assert split.getMessage() == f"token {MASK}"
    number = _record("pin %d ok", (314159265358,))
    RedactingFilter().filter(number)
    assert number.getMessage() == f"pin {MASK} ok"
