"""Where the reliability tests leave their tables, for `./dev reliability` to print.

A table one test makes whole goes through :func:`write`. A table that several tests build (the
fault matrix, a column per plugin; the fuzzers' counts) goes through :func:`add_part`: under
pytest-xdist those tests may run in different worker processes, so each worker hands its parts
to the controller at the end (xdist's ``workeroutput``), and the process that saw them all joins
them into the table once the run is over. Loaded as a pytest plugin from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DIR = Path("artifacts") / "reliability"

#: One row of a table of cases: what was tried, what came back, and whether that is right
#: (None: the case cannot run on this machine; the answer says why).
Row = tuple[str, str, bool | None]

#: table name -> part key -> data (JSON-like). Keys are unique within one process; the
#: controller prefixes each worker's keys with the worker's id.
PARTS: dict[str, dict[str, Any]] = {}
#: table name -> how its parts (in key order) become its text.
MERGERS: dict[str, Callable[[list[Any]], str]] = {}


def write(name: str, text: str) -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    (DIR / f"{name}.txt").write_text(text.rstrip() + "\n")


def add_part(name: str, key: str, data: Any) -> None:
    """Keep one piece of table ``name``; the same key again replaces it (a module's teardown
    can run twice in one worker when its tests are handed out in two batches)."""
    PARTS.setdefault(name, {})[key] = data


def merger(name: str) -> Callable[[Callable[[list[Any]], str]], Callable[[list[Any]], str]]:
    def register(fn: Callable[[list[Any]], str]) -> Callable[[list[Any]], str]:
        MERGERS[name] = fn
        return fn
    return register


@merger("fault-matrix")
def _fault_matrix(parts: list[Any]) -> str:
    from devtrack.sandbox.matrix import Cell, render

    cells = [Cell(**c) for part in sorted(parts, key=lambda p: p["order"]) for c in part["cells"]]
    return "fault matrix (every plugin × every injected fault; cell: result kind, time)\n" + render(cells)


@merger("fuzz")
def _fuzz(parts: list[Any]) -> str:
    n: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            n[key] = n.get(key, 0) + value
    return "\n".join([
        "fuzzing (hypothesis)",
        f"credential submissions: {n.get('credentials accepted', 0)} accepted, "
        f"{n.get('credentials refused', 0)} refused with field errors and the file unchanged, 0 crashes",
        f"git file names round-tripped through `git status`: {n.get('file names', 0)} "
        "(spaces, newlines, quotes, control and non-ASCII characters)",
        f"redaction of JSON: {n.get('documents', 0)} documents under {n.get('secrets', 0)} secrets "
        "(true, null, 1234, keys, punctuation…): always valid, same keys and types, no secret as a value",
    ])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller: a worker finished; keep the parts it made."""
    worker = node.gateway.id
    for name, parts in (getattr(node, "workeroutput", None) or {}).get("report_parts", {}).items():
        for key, data in parts.items():
            add_part(name, f"{worker}/{key}", data)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller joins the tables
        workeroutput["report_parts"] = PARTS
        return
    for name, parts in PARTS.items():
        if name in MERGERS:
            write(name, MERGERS[name]([parts[k] for k in sorted(parts)]))
