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
