"""The ``devtrack`` command's entry point: answers ``--version`` at once, and builds only the
sub-commands a command line needs (the typer tree lives in :mod:`.tree`)."""

from __future__ import annotations

import os
import sys

#: Sub-commands in help order: name -> (module, attribute, is a group). Each module is
#: imported only when its command runs (or for the full help), so that ``devtrack status``
#: does not pay for the web app, the AI proxy or the sandbox.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "integrations": (".integrations", "app", True),
    "git": (".git", "app", True),
    "views": (".views", "app", True),
    "status": (".views", "status", False),
    "serve": (".serve", "serve", False),
    "ai": (".ai", "app", True),
    "alerts": (".alerts", "app", True),
    "store": (".store", "app", True),
    "sandbox": (".sandbox", "app", True),
    "doctor": (".doctor", "doctor", False),
    "plugin": (".plugin", "app", True),
}


#: The command lines :mod:`.fastlist` answers without the command tree (when it can).
LIST_LINES = (["integrations", "list"], ["integrations", "list", "--json"])


def invoked(argv: list[str]) -> set[str] | None:
    """The sub-commands a command line needs: its first word's, or all (for help and typos)."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return set() if "--version" in argv else None
    first = words[0]
    if first == "init":
        return set()
    return {first} if first in COMMANDS else None


def main() -> None:
    """Console-script entry point: builds only what this command line needs.

    ``devtrack --version`` is answered before typer, rich or pydantic are imported: it is
    what scripts call to check DevTrack is there, and it should cost no more than Python.
    ``devtrack integrations list [--json]`` is answered by :mod:`.fastlist` when it can give
    the full command's output, for the same reason.

    A credential-store or snapshot-store failure that a command did not report itself is
    reported here, as every other error is (JSON under ``--json``, exit 1), never as a traceback.
    """
    argv = sys.argv[1:]
    if argv == ["--version"]:
        from .. import __version__

        print(f"devtrack {__version__}")
        return
    if argv in LIST_LINES and "DEVTRACK_SANDBOX_PID" not in os.environ:
        from .fastlist import answer

        if answer(as_json=argv[-1] == "--json"):
            return
    import typer

    from ..store_errors import CredentialStoreError
    from ..views.sqldb import StoreError
    from .output import fail, fail_store
    from .tree import build

    if "DEVTRACK_SANDBOX_PID" in os.environ:  # this shell loaded a sandbox's env file: still running?
        from .sandbox import warn_if_stale

        warn_if_stale(os.environ)
    try:
        build(invoked(argv))()
    except (CredentialStoreError, StoreError) as exc:
        try:
            if isinstance(exc, StoreError):
                fail_store(exc, as_json="--json" in argv)
            fail(str(exc), as_json="--json" in argv, kind="config")
        except typer.Exit as done:
            sys.exit(done.exit_code)


def __getattr__(name: str) -> object:
    """``app``: the full command tree, for tests and tools that import it; ``build``."""
    if name not in ("app", "build"):  # checked first: the import system asks for __path__ & co
        raise AttributeError(name)
    from . import tree

    return tree.build() if name == "app" else tree.build


if __name__ == "__main__":  # pragma: no cover
    main()
