"""A tiny GraphQL executor: enough of the language for the queries ``gh`` sends.

It parses operations, fragments, inline fragments, aliases, arguments and variables, and
answers with exactly the fields a query selects, as GitHub does. A selected field the data
does not have is an error ("Field 'x' doesn't exist on type 'Y'"), so a client asking for
something the emulator would silently drop is caught in the tests. Objects are dicts with a
``__typename``; a value that is callable is a field with arguments, called with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r'(?P<ws>[\s,]+|#[^\n]*)|(?P<spread>\.\.\.)|(?P<str>"(?:\\.|[^"\\])*")'
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<punct>[{}()\[\]:!=$@])"
)


class GraphQLError(Exception):
    pass


@dataclass
class Field:
    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    selections: list[Any] | None = None


@dataclass
class Spread:
    name: str


@dataclass
class Inline:
    type_name: str | None
    selections: list[Any]


@dataclass
class Var:
    name: str


@dataclass
class Document:
    operations: dict[str | None, tuple[list[Any], dict[str, Any]]]
    fragments: dict[str, tuple[str, list[Any]]]


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GraphQLError(f"Parse error at character {pos}: unexpected {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expect: str | None = None) -> str:
        if self.i >= len(self.toks):
            raise GraphQLError("Parse error: unexpected end of query")
        value = self.toks[self.i][1]
        if expect is not None and value != expect:
            raise GraphQLError(f"Parse error: expected {expect!r}, got {value!r}")
        self.i += 1
        return value

    def document(self) -> Document:
        ops: dict[str | None, tuple[list[Any], dict[str, Any]]] = {}
        frags: dict[str, tuple[str, list[Any]]] = {}
        while self.peek() is not None:
            if self.peek() == "{":
                ops[None] = (self.selection_set(), {})
                continue
            word = self.take()
            if word == "fragment":
                name = self.take()
                self.take("on")
                frags[name] = (self.take(), self.selection_set())
            elif word in ("query", "mutation"):
                name = self.take() if self.peek() not in ("(", "{") else None
                defaults = self.variable_defs() if self.peek() == "(" else {}
                ops[name] = (self.selection_set(), defaults)
            else:
                raise GraphQLError(f"Parse error: unexpected {word!r}")
        return Document(ops, frags)

    def variable_defs(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        self.take("(")
        while self.peek() != ")":
            self.take("$")
            name = self.take()
            self.take(":")
            self.type_ref()
            if self.peek() == "=":
                self.take("=")
                defaults[name] = self.value()
        self.take(")")
        return defaults

    def type_ref(self) -> None:
        if self.peek() == "[":
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take()
        if self.peek() == "!":
            self.take("!")

    def selection_set(self) -> list[Any]:
        self.take("{")
        out: list[Any] = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take("...")
                if self.peek() == "on":
                    self.take("on")
                    type_name = self.take()
                    out.append(Inline(type_name, self.selection_set()))
                elif self.peek() == "{":
                    out.append(Inline(None, self.selection_set()))
                else:
                    out.append(Spread(self.take()))
                continue
            name = self.take()
            alias = None
            if self.peek() == ":":
                self.take(":")
                alias, name = name, self.take()
            args = self.arguments() if self.peek() == "(" else {}
            while self.peek() == "@":  # directives are accepted and ignored
                self.take("@")
                self.take()
                if self.peek() == "(":
                    self.arguments()
            sels = self.selection_set() if self.peek() == "{" else None
            out.append(Field(name, alias, args, sels))
        self.take("}")
        return out

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args: dict[str, Any] = {}
        while self.peek() != ")":
            name = self.take()
            self.take(":")
            args[name] = self.value()
        self.take(")")
        return args

    def value(self) -> Any:
        kind, tok = self.toks[self.i]
        if tok == "$":
            self.take()
            return Var(self.take())
        if tok == "[":
            self.take()
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if tok == "{":
            self.take()
            obj = {}
            while self.peek() != "}":
                key = self.take()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        self.i += 1
        if kind == "str":
            import json

            return json.loads(tok)
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        return {"true": True, "false": False, "null": None}.get(tok, tok)  # enums stay strings


def parse(text: str) -> Document:
    return _Parser(text).document()


def _resolve_value(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, list):
        return [_resolve_value(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_value(v, variables) for k, v in value.items()}
    return value


def execute(query: str, variables: dict[str, Any] | None, root: dict[str, Any],
            operation: str | None = None) -> dict[str, Any]:
    """Run ``query`` against ``root``; returns a GraphQL response body (data or errors)."""
    try:
        doc = parse(query)
        if operation is None and len(doc.operations) == 1:
            operation = next(iter(doc.operations))
        if operation not in doc.operations:
            raise GraphQLError(f"Unknown operation named '{operation}'.")
        selections, defaults = doc.operations[operation]
        env = {**defaults, **(variables or {})}
        return {"data": _select(root, selections, env, doc)}
    except GraphQLError as exc:
        return {"errors": [{"message": str(exc)}]}


def _select(obj: dict[str, Any], selections: list[Any], env: dict[str, Any], doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {}
    type_name = obj.get("__typename", "Query")
    for sel in selections:
        if isinstance(sel, Spread):
            if sel.name not in doc.fragments:
                raise GraphQLError(f"Fragment {sel.name} was used, but not defined")
            on, sels = doc.fragments[sel.name]
            if _matches(obj, on):
                _merge(out, _select(obj, sels, env, doc))
        elif isinstance(sel, Inline):
            if sel.type_name is None or _matches(obj, sel.type_name):
                _merge(out, _select(obj, sel.selections, env, doc))
        else:
            key = sel.alias or sel.name
            if sel.name == "__typename":
                out[key] = type_name
                continue
            if sel.name not in obj:
                raise GraphQLError(f"Field '{sel.name}' doesn't exist on type '{type_name}'")
            value = obj[sel.name]
            if callable(value):
                value = value({k: _resolve_value(v, env) for k, v in sel.args.items()})
            out[key] = _shape(value, sel, env, doc)
    return out


def _shape(value: Any, sel: Field, env: dict[str, Any], doc: Document) -> Any:
    if sel.selections is None or value is None:
        if isinstance(value, dict | list) and value and sel.selections is None:
            raise GraphQLError(f"Field '{sel.name}' of an object type must have a selection of subfields")
        return value
    if isinstance(value, list):
        return [_select(v, sel.selections, env, doc) for v in value]
    return _select(value, sel.selections, env, doc)


def _matches(obj: dict[str, Any], type_name: str) -> bool:
    return type_name == obj.get("__typename") or type_name in obj.get("__implements", ())


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
