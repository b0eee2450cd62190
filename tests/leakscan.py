"""The leak scan: every secret the suite used, searched for in everything DevTrack showed.

A pytest plugin (loaded from ``tests/conftest.py``). During the session it collects what
DevTrack produced: every test's captured stdout, stderr and log lines, failure texts, the output
of every ``devtrack`` subprocess, every response of the web app (recognised by its
Content-Security-Policy header), every result the manager returned, the store's files
other than credential files, every file inside each ``doctor --bundle`` zip a test wrote
(``devtrack doctor``'s own output is CLI output, collected like any other), and every
notification the alert tests' receivers got. At the end it searches all of it for every secret registered with
the redactor, handed out by the sandbox or stored in any connection (default or named) of a
credentials file a test left behind — plain, URL-encoded, base64, inside Basic auth and
escaped as an error message quotes it (``\\n``, JSON, ``b'…'``), with each piece of a secret a
control character cuts — and fails the session on a hit, printing a table that
``./dev reliability`` shows.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

_lock = threading.Lock()
COLLECTED: dict[str, list[str]] = defaultdict(list)
EXTRA_SECRETS: set[str] = set()
#: Texts a test shows on purpose (e.g. ``devtrack ai token`` printing the proxy token).
ALLOWED: set[str] = set()
#: Shorter secrets, or ones made of one repeated character, match innocent text.
MIN_LEN = 10
REPORT = Path("artifacts") / "reliability" / "leak-scan.txt"


def record(kind: str, text: Any) -> None:
    if text:
        with _lock:
            COLLECTED[kind].append(text if isinstance(text, str) else str(text))


def add_secrets(*values: str | None) -> None:
    EXTRA_SECRETS.update(v for v in values if v)


def allow(text: str) -> None:
    """Mark output that reveals a secret by design, so the scan skips it."""
    ALLOWED.add(text)


def _forms(secret: str) -> set[str]:
    """The spellings searched: the redactor's own (so a form it fails to mask is a leak found
    here) and the plain encodings, kept here too so the scan never trusts the redactor alone."""
    from devtrack.redact import encoded_forms

    return encoded_forms(secret) | {secret, quote(secret, safe=""), quote_plus(secret),
                                    base64.b64encode(secret.encode()).decode()}


# ---------------------------------------------------------------------- collection hooks


def _wrap_subprocess() -> None:
    original = subprocess.run

    def run(*args: Any, **kwargs: Any) -> Any:
        proc = original(*args, **kwargs)
        argv = args[0] if args else kwargs.get("args")
        flat = " ".join(map(str, argv)) if isinstance(argv, list | tuple) else str(argv)
        if "devtrack" in flat:
            for stream in (proc.stdout, proc.stderr):
                if isinstance(stream, bytes):
                    stream = stream.decode("utf-8", "replace")
                if stream and stream not in ALLOWED:
                    record("cli output", stream)
        return proc

    subprocess.run = run  # type: ignore[assignment]


def _wrap_httpx() -> None:
    try:
        import httpx
    except ImportError:  # pragma: no cover
        return

    def keep(resp: Any) -> None:
        if "content-security-policy" in resp.headers and resp.is_stream_consumed:
            try:
                record("web responses", resp.text)
            except Exception:
                pass

    sync_send = httpx.Client.send
    async_send = httpx.AsyncClient.send

    def send(self: Any, request: Any, **kw: Any) -> Any:
        resp = sync_send(self, request, **kw)
        keep(resp)
        return resp

    async def asend(self: Any, request: Any, **kw: Any) -> Any:
        resp = await async_send(self, request, **kw)
        keep(resp)
        return resp

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]


def _wrap_manager() -> None:
    from devtrack.integrations.manager import IntegrationManager

    test, fetch = IntegrationManager.test, IntegrationManager.fetch

    async def test_(self: Any, plugin_id: str, *a: Any, **kw: Any) -> Any:
        out = await test(self, plugin_id, *a, **kw)
        record("results", out.model_dump_json())
        return out

    async def fetch_(self: Any, plugin_id: str, *a: Any, **kw: Any) -> Any:
        out = await fetch(self, plugin_id, *a, **kw)
        record("results", out.model_dump_json())
        return out

    IntegrationManager.test = test_  # type: ignore[method-assign]
    IntegrationManager.fetch = fetch_  # type: ignore[method-assign]


def _wrap_sandbox() -> None:
    try:
        from devtrack.sandbox.orchestrator import Sandbox
    except ImportError:  # pragma: no cover
        return
    start = Sandbox.start

    def start_(self: Any) -> Any:
        out = start(self)
        try:
            for cid, fields in self.credentials().items():  # a connection id: vercel, vercel:acme
                masked = _masked_keys(cid.partition(":")[0])
                add_secrets(*(v for k, v in fields.items() if _secret_key(k) or k in masked))
        except Exception:
            pass
        return out

    Sandbox.start = start_  # type: ignore[method-assign]


def _masked_keys(plugin_id: str) -> set[str]:
    """Fields the plugin never shows whole: secrets and masked identifiers (an AWS key id)."""
    from devtrack.integrations.registry import default_registry

    try:
        return default_registry(include_entry_points=False).get(plugin_id).credentials_model.masked_keys()
    except Exception:  # not a plugin (an AI provider's key): the key names decide
        return set()


def _secret_key(key: str) -> bool:
    low = key.lower()
    return any(h in low for h in ("token", "key", "secret", "password")) and "id" not in low.split("_")


#: The session's config. The xdist controller of a parallel run (see ``_controller``) runs no
#: test: each worker collects what its tests showed and hands it over at the end
#: (``workeroutput``), and the controller scans it all.
_CONFIG: pytest.Config | None = None
#: Secrets registered with the redactor in the workers (the controller's redactor saw none).
WORKER_SECRETS: set[str] = set()


def _controller() -> bool:
    """Asked late: xdist registers its controller session after this plugin's configure hook."""
    return _CONFIG is not None and _CONFIG.pluginmanager.has_plugin("dsession")


def pytest_configure(config: pytest.Config) -> None:
    global _CONFIG
    _CONFIG = config
    _wrap_subprocess()
    _wrap_httpx()
    _wrap_manager()
    _wrap_sandbox()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _controller():  # the worker that ran the test recorded it
        return
    for name, content in report.sections:
        record("captured logs" if "log" in name else "captured output", content)
    if report.failed and report.longrepr is not None:
        record("exception texts", report.longreprtext)


# ---------------------------------------------------------------------- the scan


def channel_secrets(doc: Any) -> set[str]:
    """Every alert channel URL of a credentials document and the password in it: a channel
    URL holds its service's secrets, so neither may appear in anything DevTrack shows or sends."""
    from urllib.parse import urlsplit

    channels = (doc.get("alerts") or {}).get("channels") if isinstance(doc, dict) else None
    out: set[str] = set()
    for entry in (channels or {}).values() if isinstance(channels, dict) else []:
        url = entry.get("url") if isinstance(entry, dict) else None
        if isinstance(url, str) and url and not is_reference(url):  # "env:X" says where it is
            try:
                parts = urlsplit(url)
                password = parts.password
            except ValueError:
                continue
            # Tokens in the path (slack://T…/B…/TOKEN, discord://ID/TOKEN): long, letters and digits.
            tokens = [p for p in parts.path.split("/") + parts.netloc.split("@")[:1]
                      if len(p) >= 16 and any(c.isdigit() for c in p) and any(c.isalpha() for c in p)]
            if password or tokens:  # json://host/path alone holds no secret
                out.update([url, *tokens, *([password] if password else [])])
    return out


def connection_secrets(doc: Any) -> set[str]:
    """Every secret (and masked identifier) of every connection in a credentials document:
    each plugin's default connection and its named ones (schema 2), and its alert channels'."""
    out: set[str] = channel_secrets(doc)
    integrations = doc.get("integrations") if isinstance(doc, dict) else None
    if not isinstance(integrations, dict):
        return out
    for plugin_id, entry in integrations.items():
        if not isinstance(entry, dict):
            continue
        named = entry.get("connections")
        entries = [entry, *(named.values() if isinstance(named, dict) else [])]
        masked = _masked_keys(plugin_id)
        for conn in entries:
            creds = conn.get("credentials") if isinstance(conn, dict) else None
            if isinstance(creds, dict):
                out.update(_stored_secret(v) for k, v in creds.items()
                           if isinstance(v, str) and v and (_secret_key(k) or k in masked)
                           and not is_reference(v))  # "env:X" says where a secret is: shown on purpose
    return out


def is_reference(value: str) -> bool:
    from devtrack.secretrefs import is_reference as ref

    return ref(value)


def _stored_secret(value: str) -> str:
    """The secret a stored literal stands for (``plain:env:x`` is the secret ``env:x``)."""
    from devtrack.secretrefs import literal

    return literal(value)


def store_secrets(base: Path) -> set[str]:
    """The secrets of every connection in the credentials files under ``base``: those a
    ``devtrack`` subprocess or the web app stored are not registered in this process."""
    out: set[str] = set()
    for path in base.rglob("*credentials*.json"):
        try:
            out |= connection_secrets(json.loads(path.read_text()))
        except (OSError, ValueError, RecursionError):  # a test's deliberately broken file
            continue
    return out


def _store_files(base: Path) -> list[Path]:
    out = []
    for path in base.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".sqlite", ".sqlite3", ".log", ".jsonl", ".db-wal", ".zip"):
            out.append(path)
    return out


def file_texts(path: Path) -> list[tuple[str, str]]:
    """(kind, text) of a store file; a zip (a ``doctor --bundle``) gives every member's text."""
    if path.suffix != ".zip":
        return [("store files", path.read_bytes().decode("utf-8", "replace"))]
    import zipfile

    try:
        with zipfile.ZipFile(path) as bundle:
            return [("doctor bundles", bundle.read(name).decode("utf-8", "replace")) for name in bundle.namelist()]
    except zipfile.BadZipFile:
        return [("store files", path.read_bytes().decode("utf-8", "replace"))]


def scan() -> tuple[dict[str, tuple[int, int]], list[str], int]:
    from devtrack.redact import redactor

    return find_leaks(COLLECTED, set(redactor.secrets()) | WORKER_SECRETS, EXTRA_SECRETS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller: a worker finished; take over what it collected."""
    got = (getattr(node, "workeroutput", None) or {}).get("leakscan")
    if not got:
        return
    for kind, texts in got["collected"].items():
        COLLECTED[kind].extend(texts)
    WORKER_SECRETS.update(got["registered"])
    EXTRA_SECRETS.update(got["extra"])
    ALLOWED.update(got["allowed"])


def find_leaks(collected: dict[str, list[str]], registered: set[str],
               extra: set[str]) -> tuple[dict[str, tuple[int, int]], list[str], int]:
    """Search ``collected`` texts for every form of every secret: stats, leaks, secrets searched."""
    from devtrack.redact import pieces

    given = registered | extra
    given |= {p for s in extra for p in pieces(s)}
    secrets = {s for s in given if len(s) >= MIN_LEN and len(set(s)) > 2}
    forms = {f: s for s in secrets for f in _forms(s) if len(f) >= MIN_LEN}
    stats: dict[str, tuple[int, int]] = {}
    leaks: list[str] = []
    for kind, texts in sorted(collected.items()):
        stats[kind] = (len(texts), sum(len(t) for t in texts))
        for text in texts:
            if text in ALLOWED:
                continue
            for form, secret in forms.items():
                if form in text:
                    at = text.index(form)
                    snippet = text[max(0, at - 60):at].replace("\n", " ")
                    leaks.append(f"{kind}: secret {secret[:3]}… found after: {snippet!r}")
                    break
    return stats, leaks, len(secrets)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    base = session.config._tmp_path_factory.getbasetemp() if hasattr(session.config, "_tmp_path_factory") else None
    if base is not None and not _controller():  # a worker's temp dir lies inside the controller's
        for path in _store_files(Path(base)):
            try:
                for kind, text in file_texts(path):
                    record(kind, text)
            except OSError:
                pass
        add_secrets(*store_secrets(Path(base)))
    if workeroutput is not None:  # an xdist worker: the controller scans everything at once
        from devtrack.redact import redactor

        workeroutput["leakscan"] = {"collected": dict(COLLECTED), "registered": sorted(redactor.secrets()),
                                    "extra": sorted(EXTRA_SECRETS), "allowed": sorted(ALLOWED)}
        return
    stats, leaks, n_secrets = scan()
    lines = ["leak scan", f"secrets searched: {n_secrets} (plain, URL-encoded, base64, Basic auth, escaped)"]
    lines.append(f"{'source':<18} {'texts':>7} {'bytes':>12}")
    for kind, (count, size) in stats.items():
        lines.append(f"{kind:<18} {count:>7} {size:>12}")
    lines.append(f"leaks found: {len(leaks)}")
    lines += [f"  ✗ {leak}" for leak in leaks[:50]]
    text = "\n".join(lines)
    try:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(text + "\n")
        (REPORT.parent / "leak-scan.json").write_text(json.dumps({"secrets": n_secrets, "stats": stats, "leaks": leaks}))
    except OSError:
        pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and (leaks or os.environ.get("DEVTRACK_RELIABILITY")):
        reporter.write_line(text)
    if leaks and session.exitstatus == 0:
        session.exitstatus = 1
