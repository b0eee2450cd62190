"""The OS keychain, through the ``keyring`` library: where ``keyring:`` references point.

Every entry lives under the service name ``devtrack``; the account (keyring's "username") is
the reference's text after ``keyring:``. Each call runs under a deadline: a keychain that does
not answer (a locked collection waiting for a prompt nobody sees, a hung D-Bus) is an error
that says so, never a hang. ``keyring`` is imported only here and only when a keychain is
needed, so CLI start-up does not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

SERVICE = "devtrack"
#: Seconds one keychain call may take before it counts as "no keychain answering".
TIMEOUT = 10.0

T = TypeVar("T")


class KeychainUnavailable(Exception):
    """No keychain answers here, or it failed; the message says what to do."""


def _run(what: str, call: Callable[[], T], timeout: float = TIMEOUT) -> T:
    """``call()`` in a daemon thread, so a keychain that never answers cannot hang DevTrack."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # reported below, in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="devtrack-keychain", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise KeychainUnavailable(
            f"the keychain did not answer within {timeout:g}s while trying to {what}; unlock it "
            "(or start its service) and retry"
        )
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, KeychainUnavailable):
            raise exc
        from . import redact

        raise KeychainUnavailable(
            f"the keychain failed to {what}: {redact.safe_str(exc)}"
        ) from None
    return box["value"]  # type: ignore[no-any-return]


def _backend() -> Any:
    """The keyring backend in use, refused when it is keyring's "no keychain" one."""
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    inner = getattr(backend, "backends", None)  # the chainer: usable only if it chains one
    if isinstance(backend, fail.Keyring) or (inner is not None and not inner):
        raise KeychainUnavailable(
            "no keychain answers here (no Secret Service on D-Bus, no macOS Keychain or "
            "Windows Credential Locker)"
        )
    return backend


def backend_name() -> str:
    """Which keychain would be used, in words ("SecretService Keyring"), or why none."""
    try:
        backend = _run("find the keychain", _backend)
    except KeychainUnavailable as exc:
        return f"none ({exc})"
    return f"{type(backend).__module__.rsplit('.', 1)[-1]} {type(backend).__name__}"


def probe() -> str | None:
    """``None`` when a keychain answers (a read of a missing entry succeeds), else why not."""
    try:
        _run("answer a test read", lambda: _backend().get_password(SERVICE, "devtrack-probe"))
    except KeychainUnavailable as exc:
        return str(exc)
    return None


def get(account: str) -> str | None:
    """The value stored for ``account``, or ``None`` when there is none."""
    return _run(f"read {account}", lambda: _backend().get_password(SERVICE, account))


def put(account: str, value: str) -> None:
    """Store ``value`` for ``account`` and read it back: a write that did not stick is an error."""
    _run(f"store {account}", lambda: _backend().set_password(SERVICE, account, value))
    if get(account) != value:
        raise KeychainUnavailable(f"the keychain did not keep {account}: reading it back gave another value")


def delete(account: str) -> bool:
    """Remove ``account``'s entry; ``False`` when there was none."""
    def call() -> bool:
        from keyring.errors import PasswordDeleteError

        backend = _backend()
        try:
            backend.delete_password(SERVICE, account)
        except PasswordDeleteError:
            return False
        return True

    return _run(f"delete {account}", call)
