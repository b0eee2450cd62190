"""Redaction: keep every known secret out of logs, errors and printed output.

Secrets are registered as they are loaded (the credential store does it for every secret
field it hands out). Each is masked in its plain form, URL-encoded forms, and inside HTTP
Basic credentials. Longer secrets are replaced first, so a secret that is a prefix of another
never leaves the other's tail readable.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "••••••••"
#: Secrets shorter than this are not registered for redaction: masking every "a" would
#: shred all output, and a secret this short is not worth protecting from logs anyway.
MIN_REDACT_LENGTH = 4

_BASIC_RE = re.compile(r"(Basic\s+)([A-Za-z0-9+/=_-]{4,})", re.IGNORECASE)


def mask(value: str | None) -> str:
    """How a stored secret is shown: over 8 characters, first 4 and last 4; else nothing."""
    if not value:
        return ""
    if len(value) > 8:
        return f"{value[:4]}••••{value[-4:]}"
    return MASK


class Redactor:
    """A thread-safe set of secrets and the function that masks them in any text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._forms: list[str] = []

    def add(self, *secrets: str | None) -> None:
        """Register secrets (and their encoded forms) for masking."""
        with self._lock:
            changed = False
            for s in secrets:
                if s and len(s) >= MIN_REDACT_LENGTH and s not in self._secrets:
                    self._secrets.add(s)
                    changed = True
            if changed:
                forms: set[str] = set()
                for s in self._secrets:
                    forms.update({s, quote(s, safe=""), quote_plus(s), quote(s)})
                    forms.add(base64.b64encode(s.encode()).decode())
                self._forms = sorted(forms, key=len, reverse=True)

    def add_basic(self, user: str, password: str) -> None:
        """Register the Basic-auth token built from ``user:password``."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.add(password, token)

    def secrets(self) -> list[str]:
        with self._lock:
            return sorted(self._secrets)

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._forms = []

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret form replaced by a mask."""
        forms = self._forms
        if not forms or not text:
            return text
        text = _BASIC_RE.sub(lambda m: m.group(1) + self._basic(m.group(2)), text)
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def _basic(self, token: str) -> str:
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return token
        return MASK if any(s in decoded for s in self._secrets) else token

    def contains_secret(self, text: str) -> bool:
        return self(text) != text


#: The process-wide redactor every layer registers with.
redactor = Redactor()


def register(secrets: Iterable[str | None]) -> None:
    redactor.add(*secrets)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message, its arguments and exception text.

    The arguments are masked one by one and keep their shape (tuple or mapping): formatters
    read them directly (uvicorn's access log unpacks the five it was given), so they cannot be
    dropped for a pre-formatted message.
    """

    def __init__(self, red: Redactor | None = None) -> None:
        super().__init__()
        self.red = red or redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            original = record.getMessage()
        except Exception:  # a broken format string must not hide the log line
            original = None
        if isinstance(record.msg, str):
            record.msg = self.red(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        try:
            leaks = original is None or self.red.contains_secret(record.getMessage())
        except Exception:  # a masked argument no longer fits its %d
            leaks = True
        if leaks:  # a secret split between the format and an argument: keep only the masked text
            record.msg = self.red(original if original is not None else str(record.msg))
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.red("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.red(record.stack_info)
        return True

    def _clean(self, value: object) -> object:
        """``value`` itself, or its text masked when that text holds a secret."""
        if isinstance(value, str):
            return self.red(value)
        try:
            text = str(value)
        except Exception:
            return value
        masked = self.red(text)
        return value if masked == text else masked


def format_exception(exc: BaseException) -> str:
    """A traceback text with every secret masked."""
    return redactor("".join(traceback.format_exception(exc)))


def safe_str(exc: BaseException) -> str:
    """``str(exc)`` with every secret masked, for messages shown to the user."""
    return redactor(str(exc) or exc.__class__.__name__)


def install_logging_filter(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of ``logger`` (root by default).

    Filters on handlers see records from every child logger, which filters on loggers do not.
    """
    logger = logger or logging.getLogger()
    if not logger.handlers:
        logging.basicConfig(level=logging.WARNING)
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
