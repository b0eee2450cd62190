"""``devtrack doctor``: what a bug report needs to know, with every secret masked.

It reads; it creates nothing (a snapshot store that does not exist is reported as such, not
made) and resolves no secret it would print: a reference is checked, and only whether it
resolved is told. Everything goes through the redactor last, after every stored secret has
been registered with it, so a secret in an old error message is masked too. The bundle is a
zip of the same report, its text form, a summary of the credentials file with every secret
replaced by where it is, and the recent errors.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import stat
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__, redact, secretrefs, secretstore
from .credentials import Doc
from .views.sqldb import mask_url

LIBRARIES = ("pydantic", "typer", "rich", "httpx", "fastapi", "uvicorn", "jinja2", "keyring", "boto3",
             "platformdirs")
#: Variables, besides ``DEVTRACK_*``, that change what DevTrack does (names only are reported).
OTHER_VARS = ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
              "GOOGLE_AI_API_KEY", "GEMINI_API_KEY", "GH_TOKEN", "GITHUB_TOKEN", "XDG_CONFIG_HOME",
              "XDG_DATA_HOME", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
MAX_ERRORS = 20
SECRET_SHOWN = "<secret, in the file>"


class BundleError(Exception):
    """The bundle cannot be written; the message names the path and why."""


# ---------------------------------------------------------------------- pieces


def _mode(path: Path) -> str | None:
    try:
        return f"{stat.S_IMODE(path.stat().st_mode):o}"
    except OSError:
        return None


def git_state(path: Path) -> str:
    """``tracked``, ``ignored``, ``not ignored`` or ``not in a git work tree``, for ``path``."""
    where = path.parent if path.parent.exists() else Path.cwd()
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "--", path.name], cwd=where,
                                 capture_output=True, timeout=5, check=False)
        if tracked.returncode == 0:
            return "tracked"
        ignored = subprocess.run(["git", "check-ignore", "-q", "--", path.name], cwd=where,
                                 capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git did not answer)"
    return {0: "ignored", 1: "not ignored"}.get(ignored.returncode, "not in a git work tree")


def _file(path: Path, **extra: Any) -> dict[str, Any]:
    exists = path.exists()
    return {"path": str(path), "exists": exists, "mode": _mode(path) if exists else None,
            "git": git_state(path) if exists else None, **extra}


def versions() -> dict[str, Any]:
    libs: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {"devtrack": __version__, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "executable_is_venv": sys.prefix != sys.base_prefix, "libraries": libs}


def _snapshot_states(path: Path) -> tuple[dict[str, Any], str | None]:
    """Each connection's refresh state from a SQLite snapshot store, read-only."""
    from .views.state import PluginState

    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT plugin, body FROM plugin_state").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return {}, f"cannot read {path}: {exc}"
    out: dict[str, Any] = {}
    for plugin, body in rows:
        try:
            out[plugin] = PluginState.model_validate_json(body)
        except ValueError:
            continue
    return out, None


def _database_states(url: str, info: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A team store on PostgreSQL: does it answer, at which schema version, and each
    connection's refresh state (the report never shows the URL's password)."""
    from .views.store import StoreError, open_store

    try:
        store = open_store(url)
    except StoreError as exc:
        info["reachable"] = False
        return {}, redact.safe_str(exc)
    except Exception as exc:  # a driver's own error: reported, never raised into the report
        info["reachable"] = False
        return {}, f"cannot read the snapshot database {mask_url(url)}: {redact.safe_str(exc)}"
    try:
        info["reachable"] = True
        info["schema_version"] = store.schema_version()  # type: ignore[attr-defined]
        stats = store.stats()
        info.update(snapshots=stats["snapshots"], bytes=stats["bytes"])
        states = store.states()
        info["connections_with_state"] = len(states)
        return dict(states), None
    except StoreError as exc:
        return {}, redact.safe_str(exc)
    finally:
        store.close()


def _keychain(doc: Doc) -> dict[str, Any]:
    from . import keychain

    problem = keychain.probe()
    return {"backend": keychain.backend_name() if problem is None else None, "answers": problem is None,
            "problem": problem, "new_secrets_go_to": secretstore.preference(doc)}


def _check_reference(text: str, environ: dict[str, str]) -> str | None:
    """Why a reference does not resolve now, or ``None``; the value is dropped at once."""
    ref = secretrefs.parse(text)
    if ref is None:
        return None
    try:
        value = secretrefs.resolve(ref, environ)
    except secretrefs.Unresolvable as exc:
        return str(exc)
    redact.register([value])  # should it ever appear in a stored message, it is masked
    return None


# ---------------------------------------------------------------------- the report


def collect(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The whole report as data (redacted)."""
    from .credentials import CredentialStore, CredentialStoreError
    from .integrations.manager import IntegrationManager

    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    report: dict[str, Any] = {"generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                              "versions": versions()}
    manager = IntegrationManager(store=CredentialStore(), environ=env)
    store = manager.store
    try:
        doc: Doc | None = store.read()
    except CredentialStoreError as exc:
        doc = None
        problems.append(str(exc))
    if doc is not None:
        _register_stored(doc, manager)
    for name, value in env.items():  # values are never shown; should one slip into a message, masked
        if any(w in name.upper() for w in ("TOKEN", "KEY", "SECRET", "PASSWORD")):
            redact.register([value])

    why = ("$DEVTRACK_CREDENTIALS" if env.get("DEVTRACK_CREDENTIALS") else
           "the project's file" if store.path.name == ".credentials.json" else "the per-user file")
    cred = _file(store.path, chosen_by=why, warnings=store.warnings(),
                 new_secrets_go_to=secretstore.preference(doc) if doc is not None else None)
    problems += cred["warnings"]
    stores: dict[str, Any] = {"credentials": cred}
    stores["access_token"] = _access_token(env)
    snaps = _snapshots(env, store.path)
    stores["snapshots"] = snaps["info"]
    if snaps["problem"]:
        problems.append(snaps["problem"])
    stores["ai_proxy_token"] = _proxy_token(doc, store.path)
    stores["keychain"] = _keychain(doc or {})
    if doc is not None:
        sec = doc.get("secrets") or {}
        if sec.get("moving"):
            problems.append("a move of secrets to the keychain was interrupted; finish it with: "
                            "devtrack integrations move-secrets --to keyring")
        if sec.get("pending_delete"):
            problems.append("a move of secrets to the file left copies in the keychain; finish it with: "
                            "devtrack integrations move-secrets --to file")
        if secretstore.preference(doc) == "keyring" and not stores["keychain"]["answers"]:
            problems.append(f"new secrets should go to the keychain, but {stores['keychain']['problem']}; "
                            "they are kept in the file meanwhile")
    report["stores"] = stores

    states = snaps["states"]
    conns, errors = _connections(manager, doc, states, env, problems) if doc is not None else ([], [])
    report["connections"] = conns
    report["environment"] = sorted(k for k in env if k.startswith("DEVTRACK_") or k in OTHER_VARS)
    report["sandbox"] = _sandbox(env)
    if report["sandbox"]["stale"]:
        problems.append(report["sandbox"]["stale"])
    report["ai_proxy"] = _ai(manager, doc, env)
    errors.sort(key=lambda e: e.get("when") or "", reverse=True)
    report["errors"] = errors[:MAX_ERRORS]
    report["problems"] = problems
    report["ok"] = not problems
    return redact.redactor.data(report)  # type: ignore[no-any-return]


def _register_stored(doc: Doc, manager: Any) -> None:
    for loc in secretstore.locations(doc, [manager.secret_locator()]):
        value = secretstore.get(doc, loc.path)
        if isinstance(value, str) and not secretrefs.is_reference(value):
            redact.register([secretrefs.literal(value)])
    for cid in _all_ids(manager, doc):
        fields = manager.plugin_class(cid).credentials_model.fields()
        stored = manager.stored_credentials(cid, doc)
        redact.register(secretrefs.literal(stored[f.key]) for f in fields
                        if f.masked and f.key in stored and not secretrefs.is_reference(stored[f.key]))
    token = (doc.get("ai_proxy") or {}).get("token")
    if isinstance(token, str):
        redact.register([token])


def _all_ids(manager: Any, doc: Doc) -> list[str]:
    try:
        return list(manager.connection_ids(doc=doc))
    except Exception:
        return []


def _access_token(env: dict[str, str]) -> dict[str, Any]:
    from .web.access import ENV_TOKEN, token_path

    return _file(token_path(), from_env=bool(env.get(ENV_TOKEN)))


def _snapshots(env: dict[str, str], credentials: Path) -> dict[str, Any]:
    from .views.store import STORE_ENV, default_url

    url = default_url(env, credentials)
    info: dict[str, Any] = {"url": mask_url(url), "chosen_by": f"${STORE_ENV}" if env.get(STORE_ENV) else
                            "beside the credentials file" if credentials.name == ".credentials.json" else
                            "the per-user data directory"}
    states: dict[str, Any] = {}
    problem = None
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        info["backend"] = "postgresql"
        states, problem = _database_states(url, info)
    elif url.startswith("sqlite:///") and url[len("sqlite:///"):] != ":memory:":
        path = Path(url[len("sqlite:///"):]).expanduser()
        info.update(_file(path))
        if path.exists():
            states, problem = _snapshot_states(path)
            info["connections_with_state"] = len(states)
            if info.get("mode") and int(info["mode"], 8) & 0o077:
                problem = f"{path} can be read by other users (mode {info['mode']}); run: chmod 600 {path}"
    return {"info": info, "states": states, "problem": problem}


def _proxy_token(doc: Doc | None, path: Path) -> dict[str, Any]:
    token = ((doc or {}).get("ai_proxy") or {}).get("token")
    ref = secretrefs.parse(token) if isinstance(token, str) else None
    return {"where": f"{path} (ai_proxy.token)", "set": bool(token), "reference": ref.text if ref else None}


def _connections(manager: Any, doc: Doc, states: dict[str, Any], env: dict[str, str],
                 problems: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for cid in _all_ids(manager, doc):
        try:
            st = manager.connection_status(cid, doc)
            sources = manager.sources(cid, doc)
        except Exception as exc:  # one broken plugin must not hide the others
            out.append({"id": cid, "problem": redact.safe_str(exc)})
            continue
        refs = []
        for key, text in manager.stored_credentials(cid, doc).items():
            if secretrefs.is_reference(text) and key not in manager.env_sources(cid):
                problem = _check_reference(text, env)
                refs.append({"field": key, "reference": text, "resolves": problem is None, "problem": problem})
                if problem:
                    problems.append(f"{cid}: {problem}")
        last = st.test_result
        row: dict[str, Any] = {
            "id": cid, "label": st.label, "enabled": st.enabled, "configured": st.configured,
            "sources": sources, "references": refs,
            "last_test": None if last is None else {
                "when": st.last_tested.isoformat() if st.last_tested else None, "ok": last.ok,
                "status": str(last.kind), "message": last.message},
        }
        if last is not None and not last.ok:
            errors.append({"where": cid, "what": "test", "when": row["last_test"]["when"],
                           "status": str(last.kind), "message": last.message})
        state = states.get(cid)
        if state is not None:
            row["last_refresh"] = {
                "attempt": state.last_attempt.isoformat() if state.last_attempt else None,
                "success": state.last_success.isoformat() if state.last_success else None,
                "failures": state.failures, "needs_attention": state.needs_attention,
                "error": None if state.error is None else {"status": str(state.error.kind),
                                                           "message": state.error.message},
            }
            if state.error is not None:
                errors.append({"where": cid, "what": "refresh",
                               "when": state.last_attempt.isoformat() if state.last_attempt else None,
                               "status": str(state.error.kind), "message": state.error.message})
        out.append(row)
    return out, errors


def _sandbox(env: dict[str, str]) -> dict[str, Any]:
    from .cli.sandbox import PID_VAR, stale_warning

    pid = env.get(PID_VAR)
    overrides = sorted(k for k in env if k.startswith("DEVTRACK_") and k.endswith("_BASE_URL"))
    stale = stale_warning(env)
    return {"env_file_loaded": pid is not None, "pid": pid, "running": pid is not None and stale is None,
            "base_url_overrides": overrides, "stale": stale}


def _ai(manager: Any, doc: Doc | None, env: dict[str, str]) -> dict[str, Any]:
    if doc is None:
        return {}
    from .ai.helicone import helicone_state
    from .ai.providers import AiProviders
    from .ai.specs import PROVIDERS

    out: dict[str, Any] = {"proxy_token_set": bool((doc.get("ai_proxy") or {}).get("token"))}
    try:
        out["helicone"] = "routed" if helicone_state(doc, env) else "not routed"
    except secretrefs.Unresolvable as exc:
        out["helicone"] = f"its key cannot be read: {exc}"
    ai = AiProviders(manager)
    rows = []
    for p in PROVIDERS:
        try:
            st = ai.status(p.id, doc)
            rows.append({"id": p.id, "configured": st.configured, "source": st.source})
        except Exception as exc:
            rows.append({"id": p.id, "problem": redact.safe_str(exc)})
    out["providers"] = rows
    return out


# ---------------------------------------------------------------------- text and bundle


def text(report: dict[str, Any]) -> str:
    """The report for people, plain text (the CLI prints it; the bundle keeps it)."""
    v = report["versions"]
    lines = [f"DevTrack doctor — {report['generated_at']}",
             f"devtrack {v['devtrack']}, Python {v['python']} ({v['implementation']}), {v['platform']}",
             "libraries: " + ", ".join(f"{k} {val or 'missing'}" for k, val in v["libraries"].items()), ""]
    st = report["stores"]
    lines.append("Stores")
    for name, label in (("credentials", "credentials file"), ("access_token", "web access token"),
                        ("snapshots", "snapshot store")):
        info = st[name]
        where = info.get("path") or info.get("url")
        if info.get("backend") == "postgresql":
            state = (f"PostgreSQL, schema {info.get('schema_version')}, {info.get('snapshots')} snapshots"
                     if info.get("reachable") else "PostgreSQL, not reachable")
            lines.append(f"  {label}: {where} ({state})")
        elif info.get("exists") is False:
            lines.append(f"  {label}: {where} (does not exist yet)")
        else:
            lines.append(f"  {label}: {where} (mode {info.get('mode')}, git: {info.get('git')})")
    token = st["ai_proxy_token"]
    lines.append(f"  AI proxy token: {'set' if token['set'] else 'not created yet'} in {token['where']}")
    kc = st["keychain"]
    lines.append(f"  keychain: {kc['backend'] if kc['answers'] else kc['problem']}; new secrets go to "
                 f"{'the keychain' if kc['new_secrets_go_to'] == 'keyring' else 'the file'}")
    lines += ["", "Connections"]
    for c in report["connections"]:
        if "problem" in c:
            lines.append(f"  {c['id']}: {c['problem']}")
            continue
        state = "enabled" if c["enabled"] else "disabled"
        conf = "configured" if c["configured"] else "not configured"
        last = c["last_test"]
        tested = "never tested" if last is None else f"last test {last['status']}: {last['message']}"
        lines.append(f"  {c['id']} ({state}, {conf}) — {tested}")
        for key, source in c["sources"].items():
            lines.append(f"      {key}: {source}")
        for ref in c["references"]:
            if not ref["resolves"]:
                lines.append(f"      ! {ref['problem']}")
        refresh = c.get("last_refresh")
        if refresh and refresh.get("error"):
            lines.append(f"      last refresh {refresh['error']['status']}: {refresh['error']['message']}")
    lines += ["", "Environment (names only): " + (", ".join(report["environment"]) or "none")]
    sb = report["sandbox"]
    lines.append("Sandbox: " + ("running (pid " + str(sb["pid"]) + ")" if sb["running"] else
                                "env file of a stopped sandbox loaded" if sb["env_file_loaded"] else "not in use")
                 + (f"; base URL overrides: {', '.join(sb['base_url_overrides'])}" if sb["base_url_overrides"] else ""))
    ai = report.get("ai_proxy") or {}
    if ai:
        provs = ", ".join(f"{p['id']} {'(' + str(p.get('source')) + ')' if p.get('configured') else 'no key'}"
                          for p in ai.get("providers", []))
        lines.append(f"AI proxy: token {'set' if ai.get('proxy_token_set') else 'not created'}, Helicone "
                     f"{ai.get('helicone')}; providers: {provs}")
    lines += ["", "Recent errors"]
    lines += [f"  {e.get('when') or '?'} {e['where']} {e['what']} {e['status']}: {e['message']}"
              for e in report["errors"]] or ["  none"]
    lines += ["", "Problems"]
    lines += [f"  ! {p}" for p in report["problems"]] or ["  none found"]
    return redact.redactor("\n".join(lines) + "\n")


def config_summary(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The credentials file's shape with every secret replaced by where it is."""
    from .credentials import CredentialStore
    from .integrations.manager import IntegrationManager

    from .credentials import CredentialStoreError

    manager = IntegrationManager(store=CredentialStore(), environ=dict(os.environ if environ is None else environ))
    try:
        doc = json.loads(json.dumps(manager.store.read()))
    except CredentialStoreError as exc:  # the report says why; the summary says it cannot be had
        return {"unreadable": redact.safe_str(exc)}
    for cid in _all_ids(manager, doc):
        fields = {f.key: f for f in manager.plugin_class(cid).credentials_model.fields()}
        entry = manager._find(doc, cid)
        creds = (entry or {}).get("credentials") or {}
        for key, value in list(creds.items()):
            f = fields.get(key)
            if secretrefs.is_reference(value):
                continue  # where the secret is, not the secret
            if f is None or f.masked:
                creds[key] = SECRET_SHOWN
    for loc in secretstore.locations(doc):
        value = secretstore.get(doc, loc.path)
        if not secretrefs.is_reference(value):
            secretstore.put(doc, loc.path, SECRET_SHOWN)
    proxy = doc.get("ai_proxy") or {}
    if proxy.get("token"):
        proxy["token"] = "<set>"
    return redact.redactor.data(doc)  # type: ignore[no-any-return]


README = """DevTrack diagnostics bundle

Made by `devtrack doctor --bundle`, to attach to a bug report. Every secret DevTrack knows of is
masked or replaced by where it is kept (env:NAME, file:PATH, op://..., keyring:...); environment
variables appear by name only. Read the files before you send them.

doctor.json         the report, as `devtrack doctor --json` prints it
doctor.txt          the same for people
config-summary.json the credentials file with every secret replaced by where it is
errors.json         the last errors of every connection (tests and refreshes)
"""


def write_bundle(path: Path, report: dict[str, Any], environ: dict[str, str] | None = None) -> Path:
    """Write the zip atomically (mode 600): a partial bundle is never left at ``path``."""
    target = path.expanduser()
    if target.is_dir():
        target = target / f"devtrack-doctor-{datetime.now().strftime('%Y%m%d-%H%M%S')}.zip"
    members = {
        "README.txt": README,
        "doctor.json": redact.redactor.dumps(report, indent=2, ensure_ascii=False) + "\n",
        "doctor.txt": text(report),
        "config-summary.json": redact.redactor.dumps(config_summary(environ), indent=2, ensure_ascii=False) + "\n",
        "errors.json": redact.redactor.dumps(report["errors"], indent=2, ensure_ascii=False) + "\n",
    }
    try:
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".tmp-", dir=target.parent)
    except OSError as exc:
        raise BundleError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, body in members.items():  # JSON masked by value above, text by the text rule
                zf.writestr(name, body if name.endswith(".json") else redact.redactor(body))
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BundleError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
