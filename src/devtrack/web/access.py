"""The access token of ``devtrack serve``: one per user, in a file only that user can read.

Why: 127.0.0.1 is reachable by every account on the machine, and the server holds the
owner's credentials. So every request needs a token that only the owner can read, the way
Jupyter does it: ``devtrack serve`` prints a login link holding it, scripts read the file
(``devtrack serve --print-token``) and send ``Authorization: Bearer``.

Where: ``access-token`` in the per-user config directory (platformdirs: on Linux
``$XDG_CONFIG_HOME/devtrack``, else ``~/.config/devtrack``). Not beside a project's
``.credentials.json``: that one sits in a work tree, where a stray file can be committed.

The file is created once (mode 600, in a directory of mode 700, never through a symbolic
link). One readable by others is replaced with a new token, since the old one may have been
read; one owned by another account is refused. ``$DEVTRACK_ACCESS_TOKEN``, when set, is the
token instead, and no file is read.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .. import redact

ENV_TOKEN = "DEVTRACK_ACCESS_TOKEN"
FILE_NAME = "access-token"
PREFIX = "dta-"
#: What the file may hold: one URL-safe token (a person may put their own there).
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{16,512}")


class AccessTokenError(Exception):
    """The token file cannot be used safely; the message says what to do."""


@dataclass(frozen=True)
class AccessToken:
    value: str
    #: ``env``: the user set it (``$DEVTRACK_ACCESS_TOKEN`` or ``--token``); ``file``: read or made here.
    origin: str
    path: Path | None = None
    #: Something the user should hear (a token file replaced because others could read it).
    notice: str | None = None


def token_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("devtrack", appauthor=False) / FILE_NAME


def load(environ: dict[str, str] | None = None, path: Path | None = None) -> AccessToken:
    """The token every request must carry: ``$DEVTRACK_ACCESS_TOKEN``, else the file's (made once)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_TOKEN):
        value = env[ENV_TOKEN]
        redact.register([value])
        return AccessToken(value, "env")
    path = path or token_path()
    value, notice = _read(path)
    if value is None:
        value = _create(path, replace=notice is not None)
    redact.register([value])
    return AccessToken(value, "file", path, notice)


def _read(path: Path) -> tuple[str | None, str | None]:
    """The file's token, or ``(None, why)`` when it must be replaced (``(None, None)``: no file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AccessTokenError(f"{path} is a symbolic link; remove it and run devtrack serve again") from None
        raise AccessTokenError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AccessTokenError(f"{path} is not a regular file; remove it and run devtrack serve again")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise AccessTokenError(
                f"{path} belongs to another account, which may know its token; remove it and run "
                "devtrack serve again"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            return None, (f"{path} was readable by other accounts, so its token may be known: "
                          "a new access token replaced it (log in again with the new link)")
        text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    if not _TOKEN_RE.fullmatch(text):
        return None, f"{path} held no usable token: a new access token replaced it"
    return text, None


def _create(path: Path, *, replace: bool) -> str:
    """Write a new token (mode 600); without ``replace``, a token another process wrote first wins."""
    value = PREFIX + secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (value + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)  # atomic, and never over a file another process just made
                except FileExistsError:
                    existing, _ = _read(path)
                    if existing is None:
                        raise AccessTokenError(f"{path} appeared meanwhile and holds no token; "
                                               "remove it and run devtrack serve again") from None
                    return existing
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise AccessTokenError(
            f"cannot write the access token to {path}: {exc.strerror or exc}; make that directory "
            f"yours and writable, or set {ENV_TOKEN}"
        ) from None
    return value
