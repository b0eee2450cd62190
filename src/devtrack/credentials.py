"""The credential store: one JSON file, written atomically, locked across processes.

Where it lives (first match wins):

1. ``$DEVTRACK_CREDENTIALS``;
2. ``.credentials.json`` at the root of the current project, if that file exists
   (the project root is the nearest ancestor holding ``.git``);
3. ``credentials.json`` in the per-user config directory (platformdirs).

Schema (version 2)::

    {"version": 2,
     "integrations": {"<plugin id>": {"enabled": true, "credentials": {...},
                                      "last_tested": "...", "test_result": {...},
                                      "connections": {"<name>": {"enabled": true, "credentials": {...},
                                                                 "last_tested": "...", "test_result": {...}}}}},
     "ai_providers": {...}, "ai_proxy": {...},
     "secrets": {"store": "file" | "keyring", "id": "...", "pending_delete": [...]}}

A credential value may be a secret reference (``env:NAME``, ``file:PATH``, ``op://…``,
``keyring:ACCOUNT``; see :mod:`.secretrefs`): the file stays the index of what is configured
while the secret lives elsewhere. ``secrets`` says where new secrets go (:mod:`.secretstore`).

The plugin's own entry is its default connection (id ``vercel``), where version 1 kept it;
``connections`` holds the named ones (id ``vercel:acme``). A version-1 file therefore reads
as it is and is upgraded on the first write, after a byte-identical copy of it is kept as
``<file>.v1.bak`` (mode 0600). A file of a newer version is refused and never written.

Guarantees: mode 0600; every write goes to a temp file (``<name>.tmp-XXXXXXXX``, which the
``.gitignore`` lines of ``devtrack init`` cover) that is fsynced and renamed over the old one,
under a file lock that is never followed through a symbolic link, after re-reading the current
file, so concurrent writers never lose each other's acknowledged changes and a killed writer
leaves the old file whole; its temp copy is removed by the next write. A file that does not
parse, or does not parse strictly (see ``store_json``), or holds a value of the wrong type, is
reported with where it is wrong and never overwritten. Every failure is a
:class:`CredentialStoreError` with a message for the user.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from . import store_json
from .store_errors import CredentialStoreError as CredentialStoreError  # re-exported
from .store_errors import StoreCorrupt as StoreCorrupt  # re-exported
from .store_errors import read_failed, write_failed
from .store_lock import held

SCHEMA_VERSION = 2
PROJECT_FILE = ".credentials.json"
ENV_PATH = "DEVTRACK_CREDENTIALS"
LOCK_TIMEOUT = 30.0

T = TypeVar("T")
Doc = dict[str, Any]

#: Names of temp files: ours, and the one older versions used (``.<name>.XXXXXXXX.tmp``).
TMP_INFIX = ".tmp-"
#: The copy of an older file kept by an upgrade: ``<name>.v1.bak`` (then ``.v1.2.bak``, …).
BACKUP_GLOB = ".v*.bak"


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


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages (the value itself may be a secret)."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _check_entry(path: Path, plugin_id: str, entry: Any, named: bool = False) -> None:
    """Refuse what would be read as something else: ``"enabled": "false"`` is not false."""
    where = f"{path}: integrations.{plugin_id}"
    fix = "fix or move it away."
    if not isinstance(entry, dict):
        raise StoreCorrupt(f"{where} must be an object, not {_kind(entry)}; {fix}")
    if "connections" in entry:
        conns = entry["connections"]
        if named or not isinstance(conns, dict):
            raise StoreCorrupt(f"{where}.connections must be an object of named connections; {fix}")
        from .integrations.connections import name_problem

        for name, sub in conns.items():
            problem = name_problem(name)
            if problem:
                raise StoreCorrupt(f"{where}.connections: {problem}; {fix}")
            _check_entry(path, f"{plugin_id}.connections.{name}", sub, named=True)
    if "enabled" in entry and not isinstance(entry["enabled"], bool):
        raise StoreCorrupt(f"{where}.enabled must be true or false, not {_kind(entry['enabled'])}; {fix}")
    creds = entry.get("credentials", {})
    if not isinstance(creds, dict):
        raise StoreCorrupt(f"{where}.credentials must be an object, not {_kind(creds)}; {fix}")
    for key, value in creds.items():
        if value is not None and not isinstance(value, str):
            raise StoreCorrupt(f"{where}.credentials.{key} must be a string, not {_kind(value)}; {fix}")
    tested = entry.get("last_tested")
    if tested is not None and not (isinstance(tested, str) and _is_time(tested)):
        raise StoreCorrupt(f"{where}.last_tested must be an ISO 8601 date and time or null; {fix}")
    result = entry.get("test_result")
    if result is not None and not isinstance(result, dict):
        raise StoreCorrupt(f"{where}.test_result must be an object or null, not {_kind(result)}; {fix}")


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


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
                _check_entry(path, key, doc["integrations"][key])
        return doc
    version = raw.get("version")
    if type(version) is not int or version < 1:
        raise StoreCorrupt(f"{path}: 'version' must be a positive integer; fix or move it away.")
    if version > SCHEMA_VERSION:
        raise CredentialStoreError(
            f"{path} was written by a newer DevTrack (schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade DevTrack to use it. The file was not changed."
        )
    for key in ("integrations", "ai_providers", "ai_proxy"):
        value = raw.setdefault(key, {})
        if not isinstance(value, dict):
            raise StoreCorrupt(f"{path}: {key!r} must be an object; fix or move it away.")
    for plugin_id, entry in raw["integrations"].items():
        _check_entry(path, plugin_id, entry)
    # Older versions kept a copy of the Helicone key here; routing now reads the integration,
    # so the copy is dropped (and gone from the file at the next write).
    raw["ai_proxy"].pop("helicone", None)
    from .secretstore import check

    problem = check(raw, str(path))
    if problem:
        raise StoreCorrupt(f"{problem}; fix or move it away.")
    return raw


class CredentialStore:
    """Read and transactionally update one credential file."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else resolve_path()
        #: The last file's bytes, its checked and upgraded document as JSON, its version. Why:
        #: the strict checks are Python and cost about 0.15 ms per connection in the file, and
        #: a batch over n connections reads the file for each, so a hundred connections paid for
        #: a hundred checks of a hundred each. The same bytes give the same document.
        self._checked: tuple[bytes, str, int] | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------ reading

    def read(self) -> Doc:
        """The current document (an empty one when the file does not exist yet)."""
        return self._load()[0]

    def _load(self) -> tuple[Doc, bytes | None, int]:
        """The document, the file's bytes (``None``: no file) and the schema version it had."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return empty_doc(), None, SCHEMA_VERSION
        except OSError as exc:
            raise read_failed(self.path, exc) from None
        checked = self._checked
        if checked is not None and checked[0] == data:
            return json.loads(checked[1]), data, checked[2]  # a fresh copy: callers change it
        try:
            raw = store_json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise StoreCorrupt(
                f"{self.path} is not UTF-8 text. DevTrack will not overwrite it: fix or move it away."
            ) from exc
        except store_json.JsonProblem as exc:
            raise StoreCorrupt(
                f"{self.path} is not valid JSON (line {exc.line}, column {exc.column}: {exc.message}). "
                "DevTrack will not overwrite it: fix or move it away."
            ) from None
        version = raw.get("version", 0) if isinstance(raw, dict) else 0
        doc = _migrate(raw, self.path)
        version = version if type(version) is int else 0
        self._checked = (data, json.dumps(doc), version)
        return doc, data, version

    # ------------------------------------------------------------------ writing

    def update(self, change: Callable[[Doc], T]) -> T:
        """Apply ``change`` to the freshest document and write it, all under the lock.

        If ``change`` raises, nothing is written. The return value of ``change`` is returned
        once the new file is durably in place (an acknowledged write).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        with held(self.lock_path, self.path, LOCK_TIMEOUT):
            doc, original, version = self._load()
            result = change(doc)
            if original is not None and version < SCHEMA_VERSION:
                self._backup(original, version)
            self._write(doc)
            return result

    def backups(self) -> list[Path]:
        """Copies of older files kept by upgrades, oldest name first."""
        return sorted(p for p in self.path.parent.glob(self.path.name + BACKUP_GLOB) if p.is_file())

    def _backup(self, original: bytes, version: int) -> Path:
        """Keep the bytes of an older-version file before the upgrade replaces it.

        Byte-identical, mode 0600, durable before the upgrade is written, and never over an
        earlier backup (a second upgrade of a restored old file gets ``.v1.2.bak``).
        """
        n = 1
        while True:
            target = self.path.with_name(f"{self.path.name}.v{version}{'' if n == 1 else f'.{n}'}.bak")
            if not target.exists():
                break
            if target.read_bytes() == original:
                return target
            n += 1
        tmp = self._private_copy(original)
        try:
            os.link(tmp, target)  # fails rather than replace a file that appeared meanwhile
        except OSError as exc:
            raise write_failed(target, exc) from None
        finally:
            os.unlink(tmp)
        return target

    def _private_copy(self, payload: bytes) -> str:
        """``payload`` in a new temp file beside the store: mode 0600, fsynced; its path."""
        try:
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + TMP_INFIX, dir=self.path.parent)
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException as exc:
            self._discard(tmp, exc)
        return tmp

    def _discard(self, tmp: str, exc: BaseException) -> NoReturn:
        """Remove a temp copy after ``exc``; an OS failure becomes the user's clear error."""
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise write_failed(self.path, exc) from None
        raise exc

    def temp_files(self) -> list[Path]:
        """Temp copies of the store beside it: under the lock, all left by killed writers."""
        name = self.path.name
        legacy = re.compile(re.escape(f".{name}.") + r"\w{8}\.tmp")
        try:
            with os.scandir(self.path.parent) as entries:
                return sorted(
                    Path(e.path) for e in entries
                    if (e.name.startswith(name + TMP_INFIX) or legacy.fullmatch(e.name))
                    and e.is_file(follow_symlinks=False)
                )
        except OSError:
            return []

    def _write(self, doc: Doc) -> None:
        """Write ``doc`` beside the file, fsync, rename over it; a failure leaves the old file."""
        doc["version"] = SCHEMA_VERSION
        payload = (json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()
        directory = self.path.parent
        for stale in self.temp_files():  # each a full copy of the secrets: do not leave them
            try:
                stale.unlink()
            except OSError:
                pass
        tmp = self._private_copy(payload)
        try:
            os.replace(tmp, self.path)
        except BaseException as exc:
            self._discard(tmp, exc)
        try:  # make the rename durable; some file systems cannot fsync a directory
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass

    # ------------------------------------------------------------------ safety checks

    def warnings(self) -> list[str]:
        """Loud warnings about how the file is kept: who else can read or replace it, and git."""
        out: list[str] = []
        try:
            st = self.path.stat()
        except OSError:
            return out
        mode = st.st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            out.append(
                f"{self.path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {self.path}"
            )
        if st.st_uid != os.geteuid():
            out.append(
                f"{self.path} belongs to another user ({_user(st.st_uid)}), who can read and change "
                f"your credentials; run: chown {_user(os.geteuid())} {self.path}, or move it away"
            )
        directory = self.path.parent
        others = _writers_besides_you(directory)
        if others:
            out.append(
                f"the directory {directory} is writable by {others}: they can replace {self.path.name} "
                f"or its lock file; run: chmod go-w {directory}, or keep the file in a directory of "
                "your own (DEVTRACK_CREDENTIALS)"
            )
        if is_tracked_by_git(self.path):
            out.append(
                f"{self.path} is tracked by git: your secrets may be committed. Run: "
                f"git rm --cached {self.path.name} && devtrack init"
            )
        else:
            unignored = not_ignored_by_git(self.path)
            if unignored:
                how = "run: devtrack init" if self.path.name == PROJECT_FILE else "add them to .gitignore"
                out.append(
                    f"git does not ignore {', '.join(unignored)} in {directory}, so `git add .` would "
                    f"commit your secrets; {how}"
                )
        return out


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _writers_besides_you(directory: Path) -> str:
    """Who other than you (and root) can create or rename files in ``directory``, in words."""
    try:
        st = directory.stat()
    except OSError:
        return ""
    if st.st_uid not in (os.geteuid(), 0):
        return f"its owner {_user(st.st_uid)}"
    if st.st_mode & stat.S_IWOTH:
        return "every user"
    if st.st_mode & stat.S_IWGRP and not _private_group(st.st_gid, st.st_uid):
        import grp

        try:
            name = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            name = str(st.st_gid)
        return f"the group {name}"
    return ""


def _private_group(gid: int, uid: int) -> bool:
    """A user's own group (same name, nobody else in it): group-writable there is not shared."""
    import grp
    import pwd

    try:
        group, user = grp.getgrgid(gid), pwd.getpwuid(uid)
    except KeyError:
        return False
    return group.gr_name == user.pw_name and not set(group.gr_mem) - {user.pw_name}


def not_ignored_by_git(path: Path) -> list[str]:
    """Which of the store's file names git, in a work tree holding ``path``, would not ignore.

    The backups of an upgrade count once one exists (each holds the secrets of its day).
    """
    names = [path.name, path.name + ".lock", path.name + TMP_INFIX + "*"]
    probes = [path.name, path.name + ".lock", path.name + TMP_INFIX + "XXXXXXXX"]
    backups = sorted(p.name for p in path.parent.glob(path.name + BACKUP_GLOB))
    if backups:
        names.append(path.name + BACKUP_GLOB)
        probes.append(backups[0])
    try:
        proc = subprocess.run(
            ["git", "check-ignore", "--", *probes],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode not in (0, 1):  # not a work tree, or git failed: nothing to say
        return []
    ignored = set(proc.stdout.splitlines())
    return [name for name, probe in zip(names, probes) if probe not in ignored]


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
            try:
                os.chmod(target, 0o600)
            except OSError as exc:
                raise write_failed(target, exc) from None
            done.append(f"set {target} to mode 600")
        done.append(f"{target} already exists")
    else:
        store.update(lambda doc: None)
        done.append(f"created {target} (mode 600)")
    gitignore = root / ".gitignore"
    # The lock and the temp copies an interrupted save leaves hold secrets too; sandbox.env
    # (``devtrack sandbox --env-file``) is one machine's, for one sandbox's lifetime.
    wanted = [PROJECT_FILE, PROJECT_FILE + ".lock", PROJECT_FILE + TMP_INFIX + "*",
              PROJECT_FILE + BACKUP_GLOB, "sandbox.env", ".devtrack/"]  # .devtrack/: the project's snapshots
    try:
        lines = gitignore.read_text().splitlines() if gitignore.exists() else []
        missing = [w for w in wanted if w not in lines and "/" + w not in lines]
        if missing:
            with gitignore.open("a") as fh:
                if lines and lines[-1].strip():
                    fh.write("\n")
                fh.write("# DevTrack credentials: never commit\n")
                fh.write("".join(m + "\n" for m in missing))
            done.append(f"added {', '.join(missing)} to {gitignore}")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialStoreError(
            f"cannot update {gitignore}: {getattr(exc, 'strerror', None) or exc}; add these lines to it "
            f"yourself: {', '.join(wanted)}"
        ) from None
    return target, done
