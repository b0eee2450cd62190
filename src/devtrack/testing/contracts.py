"""Checking an emulator against the vendor's published OpenAPI (or Swagger 2) document.

An emulator is only as good as its likeness to the vendor: these helpers say which of its
routes the document does not define, and which requests a plugin sent that it does not
allow. Validation needs ``openapi-schema-validator`` (and ``pyyaml`` for a YAML document):
list them in the plugin package's ``test`` extra.

    contract = Contract.load(Path(__file__).parent / "swagger.yml")
    assert route_problems(emulator, contract) == []
    contract.response_problems("GET", "/api/v1/user", 200, body)   # [] when valid
    assert recorded_problems(emulator, contract) == []               # after the plugin ran
"""

from __future__ import annotations

import re
from typing import Any

from ..sandbox.contract import Contract, ContractError

__all__ = ["Contract", "ContractError", "served_routes", "route_problems", "recorded_problems"]


def served_routes(emulator: Any) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route the emulator serves, converters stripped."""
    out = []
    for route in emulator.routes():
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", getattr(route, "path", ""))
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def route_problems(emulator: Any, contract: Contract) -> list[str]:
    """Routes the emulator serves that the vendor document does not define."""
    problems = []
    for method, template in served_routes(emulator):
        sample = re.sub(r"\{\w+\}", "sample", template)
        op = contract.operation(method, sample)
        if op is None or contract.strip(template).rstrip("/") != op.template.rstrip("/"):
            problems.append(f"{method} {template}: not in {contract.name}"
                            + (f" (matched {op.template})" if op else ""))
    return problems


def recorded_problems(emulator: Any, contract: Contract) -> list[str]:
    """Recorded requests (method, path, query names, JSON body) the document does not define."""
    return [p for r in emulator.requests.all() for p in contract.record_problems(r)]
