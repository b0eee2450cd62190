"""Who may use ``devtrack serve``: the access token it needs, and how the owner is told of it.

Kept apart from ``serve`` so that command reads as what it serves; see ``devtrack.web.access``
for where the token lives and why.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from urllib.parse import quote

from .output import fail, say, warn

if TYPE_CHECKING:
    from ..web.access import AccessToken

NO_AUTH_WARNING = (
    "--no-auth: this server asks for no access token. Every account and program on this machine "
    "can use your stored credentials through it; use it only on a machine nobody else uses."
)


def resolve(host: str, token: str | None, no_auth: bool) -> AccessToken | None:
    """The token the server will require (``None`` under ``--no-auth``), or a clear exit."""
    from ..web.access import AccessToken, AccessTokenError, load
    from ..web.security import is_loopback

    if no_auth:
        if token:
            fail("--no-auth and an access token (--token or DEVTRACK_ACCESS_TOKEN) contradict each "
                 "other: drop one", code=2)
        if not is_loopback(host):
            fail(f"refusing --no-auth on {host}: it is reachable from other machines; --no-auth is "
                 "only for 127.0.0.1 on a machine nobody else uses", code=2)
        return None
    if token:
        return AccessToken(token, "env")
    try:
        return load()
    except AccessTokenError as exc:
        fail(str(exc))


def print_token(token: str | None) -> None:
    """``--print-token``: the token alone on stdout, for scripts (``Authorization: Bearer …``)."""
    access = resolve("127.0.0.1", token, False)
    assert access is not None
    if access.notice:
        warn(access.notice)
    sys.stdout.write(access.value + "\n")
    sys.stdout.flush()


def announce(url: str, access: AccessToken | None) -> None:
    """Tell the owner how to get in. The login link holds the token, so it goes to the owner's
    terminal only (never a log, never a file stdout was redirected to)."""
    if access is None:
        warn(NO_AUTH_WARNING)
        return
    if access.notice:
        warn(access.notice)
    if access.origin == "env":
        say("  every request needs the access token you set (log in at /login, or send Authorization: Bearer)")
        return
    if sys.stdout.isatty():
        say("  log in with this link (it holds your access token: keep it to yourself):")
        sys.stdout.write(f"  {login_url(url, access.value)}\n")  # not through the redactor: it masks the token
        sys.stdout.flush()
        say("  scripts: send Authorization: Bearer $(devtrack serve --print-token)")
    else:
        say(f"  every request needs the access token kept in {access.path}")
        say("  log in at /login, or send Authorization: Bearer $(devtrack serve --print-token)")


def login_url(url: str, token: str) -> str:
    """The link that logs a browser in; a wildcard bind's address becomes loopback, which works here."""
    base = url.rstrip("/").replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
    return f"{base}/login?token={quote(token, safe='')}"
