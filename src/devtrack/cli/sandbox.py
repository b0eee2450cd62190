"""``devtrack sandbox``: run every vendor emulator locally, and tell a shell how to use them.

Imported by every ``devtrack`` command, so the sandbox itself is imported only when run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Run local emulators of every service, with working sandbox credentials.",
    invoke_without_command=True,
    add_completion=False,
)


@app.callback()
def sandbox(
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="Write KEY=VALUE lines (load with: set -a; . PATH) once every emulator listens.",
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

    from ..sandbox.orchestrator import Sandbox
    from .output import fail

    knobs: dict[str, int] = {}
    for item in scale or []:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            fail(f"--scale expects KEY=NUMBER, got {item!r}", kind="config")
        knobs[key.strip()] = int(value)
    chosen = [s.strip() for s in services.split(",") if s.strip()] if services else None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state_dir = Path(tempfile.mkdtemp(prefix="devtrack-sandbox-"))
    box = Sandbox(chosen, seed=seed, scale=knobs)
    try:
        try:
            box.start()
        except (KeyError, ValueError) as exc:
            fail(str(exc).strip("'\""), kind="config")
        creds = box.write_credentials(state_dir / "credentials.json")
        env = {"DEVTRACK_CREDENTIALS": str(creds)} | box.env()
        for service, emulator in box.emulators.items():
            typer.echo(f"{service:<12} {emulator.url}  (port {emulator.server.port if emulator.server else '?'})")
        typer.echo(f"credentials  {creds}")
        if env_file is not None:
            _write_env(env_file, env)
            typer.echo(f"env file     {env_file}   (load it with: set -a; . {env_file})")
        typer.echo("sandbox ready; Ctrl-C to stop", err=True)
        while not stop.wait(0.5):
            pass
    finally:
        box.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
        typer.echo("sandbox stopped", err=True)


def _write_env(path: Path, env: dict[str, str]) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    import os
    import shlex

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
    os.replace(tmp, path)
