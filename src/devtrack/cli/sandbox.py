"""``devtrack sandbox``: run every vendor emulator locally, and tell a shell how to use them.

Imported by every ``devtrack`` command, so the sandbox itself is imported only when run.

The env file (``--env-file PATH``) lives exactly as long as the sandbox: it names the
sandbox's process (``DEVTRACK_SANDBOX_PID``) and is removed when the sandbox stops, and a
shell that loaded it is warned by every later command once that process is gone
(:func:`stale_warning`, called from the CLI's entry point).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

#: The import names of the packages of the ``sandbox`` extra (pyproject.toml).
EXTRA_MODULES = ("moto", "trustme", "cryptography")
INSTALL_HINT = "pip install 'devtrack[sandbox]'"
PID_VAR = "DEVTRACK_SANDBOX_PID"

app = typer.Typer(
    help="Run local emulators of every service, with working sandbox credentials.",
    invoke_without_command=True,
    add_completion=False,
)


@app.callback()
def sandbox(
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="Write KEY=VALUE lines (load with: set -a; . PATH) once every emulator listens; "
                           "removed when the sandbox stops.",
    )] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated data.")] = 0,
    services: Annotated[str | None, typer.Option(
        "--services", help="Comma-separated services (default: all).",
    )] = None,
    scale: Annotated[list[str] | None, typer.Option(
        "--scale", help="A scale knob, e.g. --scale vercel_deployments=5000 (repeatable).",
    )] = None,
) -> None:
    """Start every emulator, print their ports, and wait until Ctrl-C or SIGTERM."""
    import shutil
    import signal
    import tempfile
    import threading

    from ..redact import safe_str
    from .output import fail

    require_extra()
    knobs: dict[str, int] = {}
    for item in scale or []:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            fail(f"--scale expects KEY=NUMBER, got {item!r}", kind="config")
        knobs[key.strip()] = int(value)
    chosen = [s.strip() for s in services.split(",") if s.strip()] if services else None
    if env_file is not None:
        problem = _env_file_problem(env_file)
        if problem:
            fail(problem, kind="config", code=2)

    from ..sandbox.orchestrator import Sandbox

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    box = Sandbox(chosen, seed=seed, scale=knobs)
    try:
        box.start()
    except (KeyError, ValueError) as exc:
        fail(str(exc).strip("'\""), kind="config")
    except ModuleNotFoundError as exc:  # a package of the extra that the check above cannot see
        require_extra(exc.name or str(exc))
    except Exception as exc:
        fail(f"the sandbox did not start: {safe_str(exc)}")
    state_dir = Path(tempfile.mkdtemp(prefix="devtrack-sandbox-"))
    try:
        creds = box.write_credentials(state_dir / "credentials.json")
        env = {PID_VAR: str(os.getpid()), "DEVTRACK_CREDENTIALS": str(creds)} | box.env()
        for service, emulator in box.emulators.items():
            typer.echo(f"{service:<12} {emulator.url}  (port {emulator.server.port if emulator.server else '?'})")
        typer.echo(f"credentials  {creds}")
        if env_file is not None:
            _write_env(env_file, env)
            typer.echo(f"env file     {env_file}   (load it with: set -a; . {env_file}; removed when the sandbox stops)")
        typer.echo("sandbox ready; Ctrl-C to stop", err=True)
        while not stop.wait(0.5):
            pass
    finally:
        box.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        if env_file is not None:
            _remove_env(env_file)
        typer.echo("sandbox stopped", err=True)


# ---------------------------------------------------------------------- the sandbox extra


def missing_extra() -> str | None:
    """The first package of the sandbox extra that is not installed (found without importing it)."""
    from importlib.util import find_spec

    return next((name for name in EXTRA_MODULES if find_spec(name) is None), None)


def require_extra(missing: str | None = None) -> None:
    """Exit 2 with the install command when the sandbox extra (or ``missing``) is absent.

    Printed as plain text: rich would read ``[sandbox]`` in the command as markup.
    """
    missing = missing or missing_extra()
    if missing:
        typer.echo(f"error: the sandbox needs the sandbox extra ({missing} is not installed): {INSTALL_HINT}",
                   err=True)
        raise typer.Exit(2)


# ---------------------------------------------------------------------- the env file


def _pid_in(path: Path) -> int | None:
    """The sandbox process an env file names, or ``None`` when it is not a sandbox env file."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key == PID_VAR:
            return int(value) if value.isdigit() else None
    return None


def _env_file_problem(path: Path) -> str | None:
    """Why ``path`` must not be (over)written: someone else's file, or a running sandbox's."""
    if not path.exists():
        return None
    pid = _pid_in(path)
    if pid is None:
        return f"{path} exists and was not written by devtrack sandbox; not replaced (pick another --env-file)"
    if pid != os.getpid() and is_running(pid):
        return f"{path} belongs to a running sandbox (pid {pid}); stop it or pick another --env-file"
    return None


def _write_env(path: Path, env: dict[str, str]) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    import shlex

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    head = f"# devtrack sandbox (pid {os.getpid()}); this file is removed when it stops\n"
    tmp.write_text(head + "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
    os.replace(tmp, path)


def _remove_env(path: Path) -> None:
    """Remove the env file if it is still this process's (another sandbox may have replaced it)."""
    if _pid_in(path) == os.getpid():
        try:
            path.unlink()
        except OSError:
            pass


# ---------------------------------------------------------------------- stale environments


def is_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except (OSError, OverflowError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: kill() is all we can know
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def stale_warning(environ: Mapping[str, str]) -> str | None:
    """The warning for a shell still holding a stopped sandbox's env file, else ``None``.

    Stale when the named process is gone, or when the credential file it pointed at is (its
    temporary directory went with it, and the pid may since belong to another process).
    """
    value = environ.get(PID_VAR)
    if value is None:
        return None
    creds = environ.get("DEVTRACK_CREDENTIALS")
    alive = value.isdigit() and is_running(int(value)) and (creds is None or Path(creds).exists())
    if alive:
        return None
    names = [PID_VAR] + [k for k in sorted(environ) if k == "DEVTRACK_CREDENTIALS"
                         or (k.startswith("DEVTRACK_") and k.endswith("_BASE_URL"))]
    return (f"the sandbox this environment names ({PID_VAR}={value}) is not running, so its credentials "
            f"and emulator URLs are gone: run `unset {' '.join(names)}`, or start `devtrack sandbox "
            f"--env-file PATH` again and reload the file")


def warn_if_stale(environ: Mapping[str, str]) -> None:
    """Print :func:`stale_warning` on stderr as one plain line (unwrapped: it holds a command to copy)."""
    message = stale_warning(environ)
    if message:
        typer.echo(f"warning: {message}", err=True)
