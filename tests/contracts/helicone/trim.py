"""Re-derive helicone-trimmed.json from Helicone's docs/swagger.json (run by hand when re-syncing).

    python tests/contracts/helicone/trim.py path/to/helicone-swagger.json

Keeps the operations DevTrack uses and every schema they reference, and applies the patches
listed in PATCHES.md. Never run by the tests.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

KEEP = {
    "/v1/request/count/query": "post",
    "/v1/request/query": "post",
    "/v1/metrics/totalCost": "post",
    "/v1/metrics/averageLatency": "post",
    "/v1/metrics/costOverTime": "post",
    "/v1/metrics/requestOverTime": "post",
    "/v1/metrics/models": "post",
}


def dedupe_operation_ids(spec: dict[str, Any]) -> list[str]:
    """Patch 1: give every repeated operationId after the first a unique suffix."""
    seen: Counter[str] = Counter()
    renamed = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            oid = op["operationId"]
            seen[oid] += 1
            if seen[oid] > 1:
                op["operationId"] = f"{oid}_{seen[oid]}"
                renamed.append(f"{method.upper()} {path}: {oid} -> {op['operationId']}")
    return renamed


def nullable_refs(node: Any, where: str = "#") -> list[str]:
    """Patch 2: ``{"allOf": [X], "nullable": true}`` (no ``type``) accepts null explicitly.

    OpenAPI 3.0.3 lets ``nullable`` act only beside ``type``, so tsoa's rendering of
    ``X | null`` rejects the ``null`` Helicone really sends (``llmSchema``, ``scores``, …).
    """
    fixed = []
    if isinstance(node, dict):
        if node.get("nullable") is True and "type" not in node and len(node.get("allOf", [])) == 1:
            node["anyOf"] = [node.pop("allOf")[0], {"type": "object", "nullable": True, "enum": [None]}]
            fixed.append(where)
        for key, value in node.items():
            fixed += nullable_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            fixed += nullable_refs(value, f"{where}/{i}")
    return fixed


def referenced(node: Any, schemas: dict[str, Any], acc: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in acc:
                acc.add(name)
                referenced(schemas[name], schemas, acc)
        for value in node.values():
            referenced(value, schemas, acc)
    elif isinstance(node, list):
        for value in node:
            referenced(value, schemas, acc)


def main(src: str) -> None:
    spec = json.loads(Path(src).read_text())
    for line in dedupe_operation_ids(spec):
        print("renamed", line)
    paths = {p: {KEEP[p]: spec["paths"][p][KEEP[p]]} for p in KEEP}
    schemas = spec["components"]["schemas"]
    names: set[str] = set()
    referenced(paths, schemas, names)
    for where in nullable_refs(out_schemas := {n: schemas[n] for n in sorted(names)}, "#/components/schemas"):
        print("nullable", where)
    out = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec.get("servers", []),
        "paths": paths,
        "components": {
            "schemas": out_schemas,
            "securitySchemes": spec["components"]["securitySchemes"],
        },
    }
    dest = Path(__file__).with_name("helicone-trimmed.json")
    dest.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    print(f"wrote {dest.name}: {len(paths)} paths, {len(names)} schemas")


if __name__ == "__main__":
    main(sys.argv[1])
