"""DevTrack as a user installs it: a wheel built from this tree, installed (not editable) into a
fresh virtual environment, without the ``sandbox`` extra.

Built once per run (once for all the workers of a parallel run). The wheel is built from a copy of the files git would commit (tracked,
plus new files not ignored), so stale build output in the tree (``build/``, ``*.egg-info``)
cannot mask a missing file. Building needs setuptools from PyPI (the build-system
requirements); installing fetches DevTrack's dependencies from PyPI through pip's cache.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 900


@dataclass(frozen=True)
class Installed:
    """A fresh venv holding the wheel: its interpreter, its ``devtrack`` script, the wheel."""

    venv: Path
    wheel: Path
    source: Path  # the copy the wheel was built from
    files: tuple[str, ...]  # what was copied: the committed files, relative to the repository

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def devtrack(self) -> Path:
        return self.venv / "bin" / "devtrack"


def committed_files(root: Path = ROOT) -> list[str]:
    """The files git would commit: tracked or new, not ignored, and present in the work tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True,
    ).stdout.decode()
    return sorted({p for p in out.split("\0") if p and (root / p).is_file()})


def _pip(python: Path, *args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run([str(python), "-m", "pip", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=PIP_TIMEOUT)
    if proc.returncode != 0:
        pytest.fail(f"pip {' '.join(args)} failed (it needs PyPI):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _build(base: Path, files: list[str]) -> Installed:
    source = base / "source"
    for rel in files:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    build_requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    _pip(python, "install", "-q", *build_requires)
    dist = base / "dist"
    _pip(python, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source), cwd=base)
    (wheel,) = dist.glob("devtrack-*.whl")
    _pip(python, "install", "-q", str(wheel))  # no extra: the sandbox's packages stay out
    return Installed(venv=venv, wheel=wheel, source=source, files=tuple(files))


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Built once per run: in a parallel run the first worker that needs it builds it in the
    run's temp dir (shared by the workers) under a lock, and the others wait and use it."""
    files = committed_files()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        base = tmp_path_factory.mktemp("install")
        yield _build(base, files)
        shutil.rmtree(base, ignore_errors=True)
        return
    base = tmp_path_factory.getbasetemp().parent / "install"  # the controller's temp dir
    base.mkdir(exist_ok=True)
    with open(base.parent / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = base / "built"
        if not done.exists():
            shutil.rmtree(base)  # what a build that failed in another worker left
            base.mkdir()
            _build(base, files)
            done.touch()
    (wheel,) = (base / "dist").glob("devtrack-*.whl")
    yield Installed(venv=base / "venv", wheel=wheel, source=base / "source", files=tuple(files))


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no DevTrack settings of the test run, state in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVTRACK_", "PYTHON"))}
    return env | {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
        "DEVTRACK_CREDENTIALS": str(home / "credentials.json"),
        "DEVTRACK_STORE_URL": f"sqlite:///{home / 'snapshots.db'}",
        "PYTHONUNBUFFERED": "1",
    } | extra
