"""Redaction: keep every known secret out of logs, errors and printed output.

Secrets are registered as they are loaded (the credential store does it for every secret
field it hands out). Each is masked in every spelling a program may print it in: plain,
URL-encoded, base64, inside HTTP Basic credentials, and escaped the way an error message
quotes it (Python ``repr`` with ``\\n``, JSON, the bytes repr ``b'…'`` an HTTP library shows
for a bad header). A secret holding a control character is also masked piece by piece: the
parts on either side of a line break are secret too. Longer secrets are replaced first, so a
secret that is a prefix of another never leaves the other's tail readable.

The masking rule, which no secret, however short, can turn into broken output:

- Secrets of ``SHORT_SECRET_LENGTH`` (8) characters or more are masked wherever they appear.
- Shorter ones ("test", "null", "true", "1234") are words ordinary text is full of. In text
  (messages, tables, logs) such a secret is masked only where it stands as a whole word: no
  letter, digit or ``_`` touching it and no ``\\`` just before it (``\\u2022``), though an
  escaped line break or tab before it counts as a space. It is masked only if it holds no
  space, quote, comma, colon, brace or bracket and does not end in ``\\``, and never where it
  is JSON syntax inside the text: in an object key (``"test":``) or a bare ``true``/``false``/
  ``null``/number in value position (``: true,``).
- Structures (what ``--json`` and the web API answer, results before they are stored) are
  masked by value, never as serialised text (:meth:`Redactor.data`): a string that *is* a
  secret becomes the mask whatever its length, a string holding one is masked as text; keys,
  booleans, numbers and ``null`` are never touched: a key is a name DevTrack or a vendor chose,
  never where a secret goes. The JSON is valid, with the same keys and types, whatever was
  registered ("password" or "test_result" as a token included).
- Secrets shorter than ``MIN_REDACT_LENGTH`` (4) are not registered at all: "a" cannot be told
  from the letter.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

MASK = "••••••••"
#: Secrets shorter than this are not registered for redaction: masking every "a" would
#: shred all output, and a secret this short is not worth protecting from logs anyway.
MIN_REDACT_LENGTH = 4
#: Secrets shorter than this are masked in text only as whole words (see the module docstring).
SHORT_SECRET_LENGTH = 8

_BASIC_RE = re.compile(r"(Basic\s+)([A-Za-z0-9+/=_-]{4,})", re.IGNORECASE)
#: Control characters (Unicode category Cc: C0, DEL, C1), where a secret is cut into pieces.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
#: A short secret is masked in text only if made of these (nothing that can be JSON syntax,
#: and no final ``\`` that would take the escape after it).
_WORDLIKE_RE = re.compile(r"[^\s\"'{}\[\]:,]*[^\s\"'{}\[\]:,\\]")
_JSON_LITERAL_RE = re.compile(r"true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
#: The rest of an object key after a match: ``…": `` (escapes included).
_KEY_REST_RE = re.compile(r"(?:[^\"\\\n]|\\.)*\"\s*:")
_NUMBER_CHARS = "0123456789.eE+-"

M = TypeVar("M")


def mask(value: str | None) -> str:
    """How a stored secret is shown: over 8 characters, first 4 and last 4; else nothing."""
    if not value:
        return ""
    if len(value) > 8:
        return f"{value[:4]}••••{value[-4:]}"
    return MASK


def encoded_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` a program may print: plain, URL-encoded, base64, and
    escaped as a Python string or bytes repr, or as JSON — once, and once more inside JSON
    (an escaped error message stored as JSON)."""
    escaped = {
        secret,
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret.encode())[2:-1],
    }
    try:
        escaped.add(repr(secret.encode("latin-1"))[2:-1])
    except UnicodeEncodeError:
        pass
    forms = escaped | {json.dumps(f)[1:-1] for f in escaped}
    forms |= {quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms.add(base64.b64encode(secret.encode()).decode())
    return {f for f in forms if f}


def pieces(secret: str) -> list[str]:
    """The parts of ``secret`` between control characters (none when it holds none)."""
    if not _CONTROL_RE.search(secret):
        return []
    return [p for p in (part.strip() for part in _CONTROL_RE.split(secret)) if len(p) >= MIN_REDACT_LENGTH]


class Redactor:
    """A thread-safe set of secrets and the functions that mask them in text and in data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._long: list[str] = []
        self._short: re.Pattern[str] | None = None
        #: Short secrets as JSON string literals, to spot them as whole values in serialised text.
        self._quoted: list[str] = []

    def add(self, *secrets: str | None) -> None:
        """Register secrets (with their encoded forms, and their pieces around control characters)."""
        with self._lock:
            fresh = [s for s in secrets if s and len(s) >= MIN_REDACT_LENGTH and s not in self._secrets]
            fresh += [p for s in fresh for p in pieces(s)]
            if not fresh:
                return
            self._secrets.update(fresh)
            long: set[str] = set()
            short: set[str] = set()
            quoted: set[str] = set()
            for s in self._secrets:
                forms = encoded_forms(s)
                if len(s) >= SHORT_SECRET_LENGTH:
                    long |= forms
                else:
                    short |= {f for f in forms if _WORDLIKE_RE.fullmatch(f)}
                    quoted |= {json.dumps(s), json.dumps(s, ensure_ascii=False)}
            self._long = sorted(long, key=len, reverse=True)
            alternatives = "|".join(re.escape(f) for f in sorted(short, key=len, reverse=True))
            self._short = re.compile(rf"(?:(?<![\w\\])|(?<=\\[nrt]))(?:{alternatives})(?!\w)") if short else None
            self._quoted = sorted(quoted)

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
            self._long, self._short, self._quoted = [], None, []

    # ------------------------------------------------------------------ text

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret form replaced by a mask (the text rule)."""
        long, short = self._long, self._short
        if not text or not (long or short):
            return text
        text = _BASIC_RE.sub(lambda m: m.group(1) + self._basic(m.group(2)), text)
        for form in long:
            if form in text:
                text = text.replace(form, MASK)
        if short is not None:
            text = short.sub(lambda m: m.group(0) if _is_syntax(m) else MASK, text)
        return text

    def _basic(self, token: str) -> str:
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return token
        return MASK if any(s in decoded for s in self._secrets) else token

    def contains_secret(self, text: str) -> bool:
        return self(text) != text

    # ------------------------------------------------------------------ data

    def value(self, text: str) -> str:
        """One string value of a structure: the mask if it is a secret, else masked as text."""
        if text in self._secrets:
            return MASK
        return self(text)

    def data(self, value: Any, default: Callable[[Any], Any] | None = None) -> Any:
        """``value`` (dicts, lists, strings, numbers…) with secrets masked in its string values.

        Keys and non-string values are kept; ``default`` turns any other object into one of
        these first, as ``json.dumps`` would.
        """
        if isinstance(value, str):
            return self.value(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {k: self.data(v, default) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v, default) for v in value]
        if default is not None:
            return self.data(default(value), default)
        return value

    def dumps(self, data: Any, **kwargs: Any) -> str:
        """``json.dumps(data, **kwargs)`` with secrets masked by value, never in the JSON text.

        Serialised once; only when that text shows a trace of a secret is the data walked
        (:meth:`data`) and serialised again.
        """
        text = json.dumps(data, **kwargs)
        if not self.traces(text):
            return text
        return json.dumps(self.data(json.loads(text)), **kwargs)

    def traces(self, text: str) -> bool:
        """Whether serialised ``text`` may hold a secret anywhere: a cheap over-estimate that
        spares walking data that holds none."""
        if any(form in text for form in self._long) or any(q in text for q in self._quoted):
            return True
        short = self._short
        return (short is not None and short.search(text) is not None) or _BASIC_RE.search(text) is not None


def _is_syntax(m: re.Match[str]) -> bool:
    """Whether a short secret's whole-word match in text is JSON syntax: inside an object key,
    or a bare literal (``true``, ``null``, a number) in value position."""
    text, start, end = m.string, m.start(), m.end()
    if _KEY_REST_RE.match(text, end):
        return True
    if text[start - 1:start] == '"':
        return False
    if m.group(0)[0] in "-0123456789":  # the whole number around it: 1234 in 1234.5 or -1234
        while start and text[start - 1] in _NUMBER_CHARS:
            start -= 1
        while end < len(text) and text[end] in _NUMBER_CHARS:
            end += 1
    if not _JSON_LITERAL_RE.fullmatch(text, start, end):
        return False
    while start and text[start - 1].isspace():  # walked, not sliced: a log holds many matches
        start -= 1
    while end < len(text) and text[end].isspace():
        end += 1
    return (not start or text[start - 1] in ":[,") and (end == len(text) or text[end] in ",}]")


#: The process-wide redactor every layer registers with.
redactor = Redactor()


def register(secrets: Iterable[str | None]) -> None:
    redactor.add(*secrets)


def scrub_model(model: M) -> M:
    """A pydantic model with every registered secret masked in its string values.

    A field whose type refuses the mask (an enum such as a result's ``kind``, a date) keeps its
    value: those come from a fixed vocabulary, not from a secret, even when a short secret
    happens to be spelled the same.
    """
    text = model.model_dump_json()  # type: ignore[attr-defined]
    if not redactor.traces(text):
        return model
    raw = json.loads(text)
    clean = redactor.data(raw)
    if clean == raw:
        return model
    cls: Any = type(model)
    try:
        return cls.model_validate(clean)  # type: ignore[no-any-return]
    except ValueError as exc:  # pydantic's ValidationError
        for error in exc.errors():  # type: ignore[attr-defined]
            _restore(clean, raw, tuple(error.get("loc", ())))
        return cls.model_validate(clean)  # type: ignore[no-any-return]


def _restore(clean: Any, raw: Any, loc: tuple[Any, ...]) -> None:
    """Put ``raw``'s value at ``loc`` back into ``clean`` (same shape)."""
    for i, part in enumerate(loc):
        try:
            if i == len(loc) - 1:
                clean[part] = raw[part]
                return
            clean, raw = clean[part], raw[part]
        except (KeyError, IndexError, TypeError):
            return


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
