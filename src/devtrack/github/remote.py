"""Parse git remote URLs (https, ssh, scp-like) into host/owner/repo, without credentials."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from .models import Remote

GITHUB_HOSTS = frozenset({"github.com", "www.github.com", "ssh.github.com"})
_SCP = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!/).*)$")


def strip_credentials(url: str) -> str:
    """``url`` with any password or token removed (``https://tok@host/x`` → ``https://host/x``)."""
    if "://" not in url:
        return url  # scp-like ``git@host:path``: the user name is not a secret
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    keep_user = parts.scheme in ("ssh", "git+ssh", "ssh+git") and ":" not in userinfo
    netloc = f"{userinfo}@{hostport}" if keep_user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_remote(name: str, url: str, github_hosts: Iterable[str] = ()) -> Remote:
    """Split a remote URL; ``is_github`` for github.com and any host in ``github_hosts``."""
    clean = strip_credentials(url.strip())
    host: str | None = None
    path = ""
    if "://" in clean:
        try:
            parts = urlsplit(clean)
            host = parts.hostname
            path = parts.path
        except ValueError:
            host = None
    elif m := _SCP.match(clean):
        host, path = m.group("host"), m.group("path")
    owner = repo = None
    segments = [s for s in path.strip("/").split("/") if s]
    if host and len(segments) >= 2:
        owner, repo = segments[-2], segments[-1].removesuffix(".git")
    hosts = GITHUB_HOSTS | {h.lower() for h in github_hosts}
    is_github = bool(host and host.lower() in hosts and owner and repo)
    return Remote(name=name, url=clean, host=host.lower() if host else None,
                  owner=owner, repo=repo or None, is_github=is_github)


def configured_hosts(environ: dict[str, str] | None = None) -> set[str]:
    """Enterprise hosts the user pointed us at (``GH_HOST``, ``DEVTRACK_GITHUB_BASE_URL``)."""
    import os

    env = os.environ if environ is None else environ
    out: set[str] = set()
    if gh_host := env.get("GH_HOST", "").strip():
        out.add(gh_host.split(":", 1)[0].lower())
    if base := env.get("DEVTRACK_GITHUB_BASE_URL", "").strip():
        try:
            if hostname := urlsplit(base).hostname:
                out.add(hostname.lower())
        except ValueError:
            pass
    return out
