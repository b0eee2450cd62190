"""Check requests and responses against a vendor's OpenAPI (or Swagger 2) document.

Used by the contract tests (emulator responses, the paths they serve) and by the plugin tests
(every request a plugin sent, as recorded by the emulator). The spec path is always passed in:
the documents live under ``tests/contracts/<service>/`` and are never read at run time.

    c = Contract.load("tests/contracts/vercel/vercel-trimmed.json")
    c.response_problems("GET", "/v2/user", 200, body)      # [] when valid
    c.request_problems("GET", "/v6/deployments", ["limit", "until"])
    c.record_problems(recorded_request)                     # a RecordedRequest
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["Contract", "Operation", "ContractError"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SPEC_URI = "urn:devtrack:spec"


class ContractError(AssertionError):
    """A request or response does not match the vendor's document."""


@dataclass
class Operation:
    method: str
    template: str
    spec: dict[str, Any]
    parameters: list[dict[str, Any]] = field(default_factory=list)

    def params(self, where: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.parameters if p.get("in") == where}


class Contract:
    """One vendor document, with its paths compiled for matching."""

    def __init__(self, spec: dict[str, Any], prefix: str = "", name: str = "") -> None:
        self.spec = spec
        self.prefix = prefix.rstrip("/")
        self.name = name
        self.swagger2 = str(spec.get("swagger", "")).startswith("2")
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec.get("paths", {}):
            regex = re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(template.rstrip("/") or "/"))
            self._routes.append((re.compile(regex + "/?"), template))
        # literal paths before templated ones: /v1/projects/available before /v1/projects/{ref}
        self._routes.sort(key=lambda r: (r[1].count("{"), -len(r[1])))

    @classmethod
    def load(cls, path: str | Path, prefix: str = "") -> Contract:
        path = Path(path)
        text = path.read_text()
        if path.suffix in (".yml", ".yaml"):
            import yaml

            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
        return cls(spec, prefix=prefix, name=path.name)

    # ------------------------------------------------------------------ matching

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
            target: Any = self.spec  # a pointer is from the document's root, not from the node
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def strip(self, path: str) -> str:
        if self.prefix and path.startswith(self.prefix):
            return path[len(self.prefix):] or "/"
        return path

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (path with the vendor prefix, if any)."""
        path = self.strip(path)
        for regex, template in self._routes:
            if regex.fullmatch(path):
                item = self.spec["paths"][template]
                op = item.get(method.lower())
                if op is None:
                    continue
                params = [self._resolve(p) for p in item.get("parameters", [])]
                own = [self._resolve(p) for p in op.get("parameters", [])]
                names = {(p.get("in"), p.get("name")) for p in own}
                merged = [p for p in params if (p.get("in"), p.get("name")) not in names] + own
                return Operation(method.upper(), template, op, merged)
        return None

    def templates(self) -> list[tuple[str, str]]:
        """Every (METHOD, template) the document defines."""
        return [(m.upper(), t) for t, item in self.spec.get("paths", {}).items() for m in item if m in METHODS]

    # ------------------------------------------------------------------ requests

    def request_problems(self, method: str, path: str, query_names: list[str] | None = None,
                         body: Any = None) -> list[str]:
        """Why this request is not one the document defines ([] when it is)."""
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in {self.name or 'the contract'}"]
        problems = []
        known = op.params("query")
        given = set(query_names or [])
        for name in sorted(given - set(known)):
            problems.append(f"{method} {op.template}: unknown query parameter {name!r}")
        for name, p in known.items():
            if p.get("required") and name not in given:
                problems.append(f"{method} {op.template}: required query parameter {name!r} missing")
        if body is not None and not self.swagger2:
            schema_path = self._request_schema_pointer(op)
            if schema_path:
                problems += [f"{method} {op.template} request body: {e}" for e in self._validate(schema_path, body)]
        return problems

    def record_problems(self, record: Any) -> list[str]:
        """:meth:`request_problems` for a :class:`~devtrack.sandbox.recorder.RecordedRequest`."""
        body = record.body if isinstance(record.body, (dict, list)) else None
        return self.request_problems(record.method, record.path, record.param_names, body)

    # ------------------------------------------------------------------ responses

    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Why ``body`` is not a valid ``status`` response of the operation ([] when it is)."""
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in {self.name or 'the contract'}"]
        pointer = self._response_schema_pointer(op, status)
        if pointer is None:
            return [f"{method} {op.template}: the contract defines no schema for status {status}"]
        return [f"{method} {op.template} {status}: {e}" for e in self._validate(pointer, body)]

    def assert_response(self, method: str, path: str, status: int, body: Any) -> None:
        problems = self.response_problems(method, path, status, body)
        if problems:
            raise ContractError("\n".join(problems[:20]))

    def _op_pointer(self, op: Operation) -> str:
        escaped = op.template.replace("~", "~0").replace("/", "~1")
        return f"/paths/{escaped}/{op.method.lower()}"

    def _response_schema_pointer(self, op: Operation, status: int) -> str | None:
        responses = op.spec.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key not in responses:
                continue
            base = f"{self._op_pointer(op)}/responses/{key}"
            resp = responses[key]
            if "$ref" in resp:
                base = resp["$ref"][1:]
                resp = self._resolve(resp)
            if self.swagger2:
                return f"{base}/schema" if "schema" in resp else None
            for ctype, media in (resp.get("content") or {}).items():
                if "json" in ctype and "schema" in media:
                    return f"{base}/content/{ctype.replace('/', '~1')}/schema"
            return None
        return None

    def _request_schema_pointer(self, op: Operation) -> str | None:
        body = op.spec.get("requestBody")
        if not body:
            return None
        base = f"{self._op_pointer(op)}/requestBody"
        if "$ref" in body:
            base, body = body["$ref"][1:], self._resolve(body)
        for ctype, media in (body.get("content") or {}).items():
            if "json" in ctype and "schema" in media:
                return f"{base}/content/{ctype.replace('/', '~1')}/schema"
        return None

    # ------------------------------------------------------------------ validation

    @cached_property
    def _validator_class(self) -> Any:
        import openapi_schema_validator as osv

        version = str(self.spec.get("openapi", "3.0"))
        return osv.OAS31Validator if version.startswith("3.1") else osv.OAS30Validator

    @cached_property
    def _registry(self) -> Any:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT202012 if str(self.spec.get("openapi", "")).startswith("3.1") else DRAFT4
        return Registry().with_resource(SPEC_URI, Resource.from_contents(self.spec, default_specification=spec))

    def _validate(self, pointer: str, instance: Any) -> list[str]:
        validator = self._validator_class({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self._registry)
        out = []
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            out.append(f"at {where}: {err.message[:300]}")
        return out
