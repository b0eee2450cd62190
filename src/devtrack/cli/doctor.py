"""``devtrack doctor``: a diagnostics report safe to share, and a zip of it for bug reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .output import JSON_OPTION, emit_json, fail, say, warn


def doctor(
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", help="Also write a zip of the report (and a redacted config summary) to PATH, "
                         "to attach to a bug report.")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check the set-up: versions, stores, connections, overrides, sandbox, AI proxy, last errors.

    Every secret is masked; environment variables are named, never shown. Exits 1 when it
    found a problem (each is listed with what to do), 0 otherwise.
    """
    from ..doctor import BundleError, collect, text, write_bundle

    try:
        report = collect()
        written = write_bundle(bundle, report) if bundle is not None else None
    except BundleError as exc:
        fail(str(exc), as_json=as_json, kind="io")
    except Exception as exc:  # the diagnostics must diagnose, not crash: one line, never a traceback
        from ..redact import safe_str

        fail(f"doctor failed: {safe_str(exc)}", as_json=as_json, kind="error")
    if as_json:
        emit_json({**report, "bundle": str(written) if written else None})
    else:
        for line in text(report).rstrip("\n").splitlines():
            say(line)
        if written is not None:
            say(f"\nbundle written: {written} (secrets masked; read it before you send it)")
        elif report["problems"]:
            warn(f"{len(report['problems'])} problem(s) found, listed above")
    if report["problems"]:
        raise typer.Exit(1)
