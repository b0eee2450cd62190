"""Secret references: a stored field value that says where the secret is, not what it is.

``env:NAME``
    the environment variable NAME of the DevTrack process;
``file:PATH``
    the contents of PATH (surrounding whitespace stripped), refused unless only you can read
    it (mode 0600 or stricter, owned by you);
``op://VAULT/ITEM/FIELD``
    read with the 1Password CLI (``op read``), under a deadline;
``keyring:ACCOUNT``
    the OS keychain's entry for service ``devtrack``, account ACCOUNT (see :mod:`.keychain`).

A reference is resolved each time the value is used and never written back resolved; it is
shown as itself ("from env:VERCEL_TOKEN"). A value that merely looks like a reference is
written with the ``plain:`` escape: ``plain:env:abc`` is the literal ``env:abc`` (and
``plain:plain:x`` the literal ``plain:x``). This module imports nothing heavy.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIXES = ("env:", "file:", "op://", "keyring:")
LITERAL = "plain:"
#: Seconds ``op read`` may take (1Password may be waiting to be unlocked).
OP_TIMEOUT = 15.0
#: No secret is this long; a bigger file is not one.
FILE_MAX = 64 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP_INSTALL = "https://developer.1password.com/docs/cli/get-started/"


class Unresolvable(Exception):
    """A reference whose value cannot be had; the message names it and says what to do."""


@dataclass(frozen=True)
class Reference:
    kind: str  # env | file | op | keyring
    target: str  # NAME, PATH, the whole op:// URI, ACCOUNT
    text: str  # as written

    def shown(self) -> str:
        """How the value is shown everywhere: by where it comes from."""
        return f"from {self.text}"


def parse(value: str | None) -> Reference | None:
    """The reference ``value`` is, or ``None`` for a literal (escaped or not)."""
    if not value:
        return None
    for prefix in PREFIXES:
        if value.startswith(prefix):
            kind = prefix.rstrip(":/")
            target = value if kind == "op" else value[len(prefix):]
            return Reference(kind, target, value)
    return None


def is_reference(value: str | None) -> bool:
    return parse(value) is not None


def literal(stored: str) -> str:
    """The value a stored literal stands for (the ``plain:`` escape removed)."""
    return stored[len(LITERAL):] if stored.startswith(LITERAL) else stored


def stored_form(value: str) -> str:
    """How a literal ``value`` is written so that it reads back as itself."""
    if value.startswith(LITERAL) or is_reference(value):
        return LITERAL + value
    return value


def problem(value: str) -> str | None:
    """Why ``value``, a reference, is malformed (``None`` when well formed or not a reference)."""
    ref = parse(value)
    if ref is None:
        return None
    # The value is not quoted back: it may be a secret that merely starts like a reference.
    escape = f"to store a value that starts with {ref.kind}: as it is, put plain: before it"
    if ref.kind == "env" and not _ENV_NAME.fullmatch(ref.target):
        return ("the value is not a valid env: reference: expected env:NAME, NAME being letters, digits "
                f"and _ (e.g. env:VERCEL_TOKEN); {escape}")
    if ref.kind == "file" and not ref.target.strip():
        return "file: needs a path, e.g. file:~/.secrets/vercel-token"
    if ref.kind == "op":
        parts = ref.target[len("op://"):].split("/")
        if len(parts) < 3 or not all(parts):
            return f"the value is not a valid 1Password reference: expected op://VAULT/ITEM/FIELD; {escape}"
    if ref.kind == "keyring" and not ref.target.strip():
        return "keyring: needs an account name, e.g. keyring:vercel/token"
    return None


def resolve(ref: Reference, environ: Mapping[str, str] | None = None) -> str:
    """The secret ``ref`` points to, read now; :class:`Unresolvable` otherwise."""
    env = os.environ if environ is None else environ
    if ref.kind == "env":
        value = (env.get(ref.target) or "").strip()
        if not value:
            raise Unresolvable(
                f"{ref.text}: the variable {ref.target} is not set for DevTrack; export {ref.target}=… in "
                "the environment DevTrack runs in, or store the value instead"
            )
        return value
    if ref.kind == "file":
        return _read_file(ref)
    if ref.kind == "op":
        return _op_read(ref, env)
    return _keyring(ref)


def _read_file(ref: Reference) -> str:
    path = Path(ref.target).expanduser()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Unresolvable(f"{ref.text}: {path} does not exist; create it (mode 600) holding the secret") from None
    except OSError as exc:
        raise Unresolvable(f"{ref.text}: cannot open {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unresolvable(f"{ref.text}: {path} is not a regular file")
        if st.st_uid != os.geteuid():
            raise Unresolvable(f"{ref.text}: {path} belongs to another user; keep the secret in a file of your own")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise Unresolvable(
                f"{ref.text}: {path} can be read or changed by other users (mode {mode:o}); "
                f"run: chmod 600 {path}"
            )
        if st.st_size > FILE_MAX:
            raise Unresolvable(f"{ref.text}: {path} is over {FILE_MAX // 1024} KiB, too big to be a secret")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(FILE_MAX + 1)
    except OSError as exc:
        raise Unresolvable(f"{ref.text}: cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Unresolvable(f"{ref.text}: {path} is not UTF-8 text") from None
    if not value:
        raise Unresolvable(f"{ref.text}: {path} is empty; put the secret in it")
    return value


def _op_read(ref: Reference, env: Mapping[str, str]) -> str:
    try:
        proc = subprocess.run(
            ["op", "read", "--no-newline", ref.target],
            capture_output=True, text=True, timeout=OP_TIMEOUT, check=False,
            env=dict(env), stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise Unresolvable(
            f"{ref.text}: the 1Password CLI (op) is not installed or not on PATH; install it "
            f"({_OP_INSTALL}) and sign in with: op signin"
        ) from None
    except subprocess.TimeoutExpired:
        raise Unresolvable(
            f"{ref.text}: op read did not answer within {OP_TIMEOUT:g}s; unlock 1Password "
            "(op signin) and retry"
        ) from None
    except OSError as exc:
        raise Unresolvable(f"{ref.text}: cannot run op: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        from . import redact

        why = redact.redactor((proc.stderr or "").strip().splitlines()[-1:][0] if proc.stderr.strip() else
                              f"exit status {proc.returncode}")
        raise Unresolvable(
            f"{ref.text}: op read failed ({why[:200]}); sign in with: op signin, and check the vault, "
            "item and field names"
        )
    value = proc.stdout.strip()
    if not value:
        raise Unresolvable(f"{ref.text}: 1Password returned an empty value; fill in that field")
    return value


def _keyring(ref: Reference) -> str:
    from . import keychain

    try:
        value = keychain.get(ref.target)
    except keychain.KeychainUnavailable as exc:
        raise Unresolvable(
            f"{ref.text}: {exc}; or move the secrets back to the file with: "
            "devtrack integrations move-secrets --to file (where a keychain answers)"
        ) from None
    if not value:
        raise Unresolvable(
            f"{ref.text}: the keychain has no entry for service {keychain.SERVICE}, account "
            f"{ref.target}; enter the secret again with devtrack integrations set"
        )
    return value
