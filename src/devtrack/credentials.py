"""The credential store: one JSON file, written atomically, locked across processes.

Where it lives (first match wins):

1. ``$DEVTRACK_CREDENTIALS``;
2. ``.credentials.json`` at the root of the current project, if that file exists
   (the project root is the nearest ancestor holding ``.git``);
3. ``credentials.json`` in the per-user config directory (platformdirs).

Schema (version 1)::

    {"version": 1,
     "integrations": {"<id>": {"enabled": true, "credentials": {...},
                               "last_tested": "...", "test_result": {...}}},
     "ai_providers": {...}, "ai_proxy": {...}}

Guarantees: mode 0600; every write goes to a temp file that is fsynced and renamed over the
old one, under a file lock, after re-reading the current file, so concurrent writers never
lose each other's acknowledged changes and a killed writer leaves the old file whole. A file
that does not parse is reported and never overwritten.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SCHEMA_VERSION = 1
PROJECT_FILE = ".credentials.json"
ENV_PATH = "DEVTRACK_CREDENTIALS"
LOCK_TIMEOUT = 30.0

T = TypeVar("T")
Doc = dict[str, Any]


class CredentialStoreError(Exception):
    """The store cannot be read or written; the message tells the user what to do."""


class StoreCorrupt(CredentialStoreError):
    """The file exists but is not a valid credential file. It is left untouched."""


def empty_doc() -> Doc:
    return {"version": SCHEMA_VERSION, "integrations": {}, "ai_providers": {}, "ai_proxy": {}}


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest ancestor of ``start`` (default: cwd) that holds ``.git``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def user_store_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("devtrack", appauthor=False) / "credentials.json"


def resolve_path(cwd: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """Where the credential store lives for a process started in ``cwd``."""
    env = os.environ if environ is None else environ
    if env.get(ENV_PATH):
        return Path(env[ENV_PATH]).expanduser()
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate / PROJECT_FILE
        if (candidate / ".git").exists():
            break
    return user_store_path()


def _migrate(raw: Any, path: Path) -> Doc:
    """Validate the top-level shape; upgrade the original app's flat layout."""
    if not isinstance(raw, dict):
        raise StoreCorrupt(f"{path} does not hold a JSON object; fix or move it away.")
    if "version" not in raw:
        # The original layout: {pluginId: {field: value}, "ai": {...}}.
        doc = empty_doc()
        for key, value in raw.items():
            if not isinstance(value, dict):
                raise StoreCorrupt(f"{path}: entry {key!r} is not an object; fix or move it away.")
            if key == "ai":
                doc["ai_providers"] = dict(value)
            else:
                doc["integrations"][key] = {"enabled": True, "credentials": dict(value)}
        return doc
    version = raw.get("version")
    if not isinstance(version, int) or version < 1:
        raise StoreCorrupt(f"{path}: 'version' must be a positive integer; fix or move it away.")
    if version > SCHEMA_VERSION:
        raise CredentialStoreError(
            f"{path} was written by a newer DevTrack (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); upgrade DevTrack. The file was not changed."
        )
    for key in ("integrations", "ai_providers", "ai_proxy"):
        value = raw.setdefault(key, {})
        if not isinstance(value, dict):
            raise StoreCorrupt(f"{path}: {key!r} must be an object; fix or move it away.")
    for plugin_id, entry in raw["integrations"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("credentials", {}), dict):
            raise StoreCorrupt(f"{path}: integration {plugin_id!r} is malformed; fix or move it away.")
    # Older versions kept a copy of the Helicone key here; routing now reads the integration,
    # so the copy is dropped (and gone from the file at the next write).
    raw["ai_proxy"].pop("helicone", None)
    return raw


class CredentialStore:
    """Read and transactionally update one credential file."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else resolve_path()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------ reading

    def read(self) -> Doc:
        """The current document (an empty one when the file does not exist yet)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return empty_doc()
        except PermissionError as exc:
            raise CredentialStoreError(f"cannot read {self.path}: permission denied") from exc
        except IsADirectoryError as exc:
            raise CredentialStoreError(f"{self.path} is a directory, not a credential file") from exc
        try:
            raw = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise StoreCorrupt(
                f"{self.path} is not UTF-8 text. DevTrack will not overwrite it: fix or move it away."
            ) from exc
        except json.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{self.path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                "DevTrack will not overwrite it: fix or move it away."
            ) from None
        return _migrate(raw, self.path)

    # ------------------------------------------------------------------ writing

    def update(self, change: Callable[[Doc], T]) -> T:
        """Apply ``change`` to the freshest document and write it, all under the lock.

        If ``change`` raises, nothing is written. The return value of ``change`` is returned
        once the new file is durably in place (an acknowledged write).
        """
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.lock_path), timeout=LOCK_TIMEOUT):
                doc = self.read()
                result = change(doc)
                self._write(doc)
                return result
        except Timeout as exc:
            raise CredentialStoreError(
                f"another DevTrack process holds {self.lock_path} for over {LOCK_TIMEOUT:.0f}s"
            ) from exc

    def _write(self, doc: Doc) -> None:
        doc["version"] = SCHEMA_VERSION
        payload = (json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        try:
            dir_fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # ------------------------------------------------------------------ safety checks

    def warnings(self) -> list[str]:
        """Loud warnings about how the file is kept: readable by others, tracked by git."""
        out: list[str] = []
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return out
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            out.append(
                f"{self.path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {self.path}"
            )
        if is_tracked_by_git(self.path):
            out.append(
                f"{self.path} is tracked by git: your secrets may be committed. Run: "
                f"git rm --cached {self.path.name} && devtrack init"
            )
        return out


def is_tracked_by_git(path: Path) -> bool:
    try:
        proc = subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def init_project(directory: Path | None = None) -> tuple[Path, list[str]]:
    """Create the project's ``.credentials.json`` and make sure git ignores it.

    Returns the file's path and a list of what was done, for the user.
    """
    root = find_project_root(directory) or (directory or Path.cwd()).resolve()
    target = root / PROJECT_FILE
    done: list[str] = []
    store = CredentialStore(target)
    if target.exists():
        store.read()  # refuse loudly if it is corrupt
        if stat.S_IMODE(target.stat().st_mode) != 0o600:
            os.chmod(target, 0o600)
            done.append(f"set {target} to mode 600")
        done.append(f"{target} already exists")
    else:
        store.update(lambda doc: None)
        done.append(f"created {target} (mode 600)")
    gitignore = root / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    wanted = [PROJECT_FILE, PROJECT_FILE + ".lock"]
    missing = [w for w in wanted if w not in lines and "/" + w not in lines]
    if missing:
        with gitignore.open("a") as fh:
            if lines and lines[-1].strip():
                fh.write("\n")
            fh.write("# DevTrack credentials: never commit\n")
            fh.write("".join(m + "\n" for m in missing))
        done.append(f"added {', '.join(missing)} to {gitignore}")
    return target, done
