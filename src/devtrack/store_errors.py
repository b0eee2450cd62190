"""The credential store's errors, and the sentence a failed file operation becomes.

Every way the store can fail ends as a :class:`CredentialStoreError` whose message names the
file, says what went wrong in words, that the old file was kept, and what to do, so the CLI
and the web app can show it as it is (never a traceback).
"""

from __future__ import annotations

import errno
from pathlib import Path


class CredentialStoreError(Exception):
    """The store cannot be read or written; the message tells the user what to do."""


class StoreCorrupt(CredentialStoreError):
    """The file exists but is not a valid credential file. It is left untouched."""


_WHY = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EISDIR: "a directory is in the way",
    errno.ENOTDIR: "a path component is not a directory",
    errno.ELOOP: "a symbolic link is in the way",
}

_TODO = {
    errno.EACCES: "make {dir} writable by you, or set DEVTRACK_CREDENTIALS to a file in a directory you own",
    errno.EPERM: "make {dir} writable by you, or set DEVTRACK_CREDENTIALS to a file in a directory you own",
    errno.EROFS: "set DEVTRACK_CREDENTIALS to a file on a writable disk",
    errno.ENOSPC: "free some space on that disk and retry",
    errno.EDQUOT: "free some space on that disk and retry",
}


def write_failed(path: Path, exc: OSError) -> CredentialStoreError:
    """The error for an ``OSError`` met while saving ``path`` (before the rename: old file kept)."""
    code = exc.errno or 0
    why = _WHY.get(code) or exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    todo = _TODO.get(code, "fix the cause and retry").format(dir=path.parent)
    return CredentialStoreError(
        f"cannot save {path}: {why}{where}. Nothing was written and the previous file is "
        f"unchanged; {todo}."
    )


def read_failed(path: Path, exc: OSError) -> CredentialStoreError:
    """The error for an ``OSError`` met while reading ``path``."""
    code = exc.errno or 0
    why = _WHY.get(code) or exc.strerror or type(exc).__name__
    if code == errno.EISDIR:
        return CredentialStoreError(f"{path} is a directory, not a credential file")
    return CredentialStoreError(f"cannot read {path}: {why}")
