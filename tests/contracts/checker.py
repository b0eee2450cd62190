"""Contract-test helpers shared by every vendor: load a copied spec, check an emulator against it."""

from __future__ import annotations

import re
from pathlib import Path

from devtrack.sandbox.contract import Contract
from devtrack.sandbox.emulator import Emulator

SPECS = Path(__file__).parent

__all__ = ["SPECS", "load", "served_routes", "route_problems", "recorded_problems"]


def load(service: str, filename: str, prefix: str = "") -> Contract:
    """The vendor document copied under ``tests/contracts/<service>/``."""
    return Contract.load(SPECS / service / filename, prefix=prefix)


def served_routes(emulator: Emulator) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route the emulator serves, converters stripped."""
    out = []
    for route in emulator.routes():
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", getattr(route, "path", ""))
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def route_problems(emulator: Emulator, contract: Contract) -> list[str]:
    """Routes the emulator serves that the vendor document does not define."""
    problems = []
    for method, template in served_routes(emulator):
        sample = re.sub(r"\{\w+\}", "sample", template)
        op = contract.operation(method, sample)
        if op is None or contract.strip(template).rstrip("/") != op.template.rstrip("/"):
            problems.append(f"{method} {template}: not in {contract.name}"
                            + (f" (matched {op.template})" if op else ""))
    return problems


def recorded_problems(emulator: Emulator, contract: Contract) -> list[str]:
    """Recorded requests (method, path, query names, JSON body) the document does not define."""
    return [p for r in emulator.requests.all() for p in contract.record_problems(r)]
