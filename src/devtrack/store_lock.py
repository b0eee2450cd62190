"""The credential store's lock: an exclusive ``flock`` on ``<file>.lock``, never through a link.

A lock file that is a symbolic link (or a FIFO, a device, a directory) is refused: opening it
would act on whatever it points to, and whoever could plant it in the store's directory could
make DevTrack create or open a file of their choosing. The lock is held by an open descriptor,
so it dies with the process: a killed writer never leaves the store locked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .store_errors import CredentialStoreError, write_failed

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class LockTimeout(CredentialStoreError):
    """Another process held the lock for longer than the timeout."""


def _refused(lock: Path, what: str) -> CredentialStoreError:
    return CredentialStoreError(
        f"the lock file {lock} is {what}; DevTrack will not open it (someone may be trying to make "
        f"it write elsewhere). Nothing was written. Check it, then remove it: rm {lock}"
    )


@contextmanager
def held(lock: Path, store: Path, timeout: float) -> Iterator[None]:
    """Hold the exclusive lock on ``lock`` (guarding ``store``) for the ``with`` block."""
    try:
        fd = os.open(lock, _FLAGS, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused(lock, "a symbolic link") from None
        raise write_failed(store, exc) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _refused(lock, "not a regular file")
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another DevTrack process holds {lock} for over {timeout:.0f}s; "
                        "nothing was written. Retry when it is done."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
