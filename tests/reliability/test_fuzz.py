"""Fuzzing with hypothesis: credential validation, redaction of JSON, and the git output parsers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from pathlib import Path

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtrack.credentials import CredentialStore
from devtrack.github.git import git_status
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager
from devtrack.integrations.registry import BUILTINS, default_registry
from devtrack.redact import MASK, SHORT_SECRET_LENGTH, Redactor, redactor

from ..core.helpers import json_shape, json_strings
from .report import add_part

@pytest.fixture(autouse=True, scope="module")
def _own_redactor() -> Iterator[None]:
    """Fuzzed "secrets" are registered for redaction as they are validated; forget them after,
    so they neither mask ordinary words in later tests nor swell the leak scan."""
    saved = redactor.secrets()
    yield
    redactor.clear()
    redactor.add(*saved)


RESULTS: dict[str, list[int]] = {"credentials accepted": [0], "credentials refused": [0], "file names": [0],
                                 "documents": [0], "secrets": [0]}

_registry = default_registry(include_entry_points=False)
_fields = {pid: [f.key for f in _registry.get(pid).credentials_model.fields()] for pid in BUILTINS}
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@st.composite
def submissions(draw: st.DrawFn) -> tuple[str, dict[str, str | None]]:
    pid = draw(st.sampled_from(sorted(BUILTINS)))
    keys = draw(st.lists(st.sampled_from(_fields[pid] + ["bogus_field"]), unique=True, max_size=6))
    values = {k: draw(st.one_of(st.none(), text, st.sampled_from(["https://ok.example", "http://127.0.0.1:9",
                                                                   "ftp://x", "https://", "not a url"])))
              for k in keys}
    return pid, values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(submissions())
def test_credential_validation_never_crashes_and_refusal_stores_nothing(sub: tuple[str, dict[str, str | None]]) -> None:
    pid, values = sub
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        manager = IntegrationManager(store=CredentialStore(path), registry=_registry, environ={})
        manager.set_credentials("github", {})  # an existing file to compare against
        before = path.read_bytes()
        try:
            manager.set_credentials(pid, values)
        except CredentialsInvalid as exc:
            RESULTS["credentials refused"][0] += 1
            assert exc.errors and all(isinstance(m, str) and m for m in exc.errors.values())
            assert path.read_bytes() == before
            return
        RESULTS["credentials accepted"][0] += 1
        stored = manager.stored_credentials(pid)
        for key, value in values.items():
            if value:
                assert stored[key] == value
        assert manager.status(pid).configured


# Secrets that look like JSON (keywords, numbers, keys, punctuation) and documents full of them.
_WORDS = ["true", "false", "null", "test", "1234", "-1.5", "1e10", "ok", "id", "kind", "status", "message",
          "test_result", "network", '", "', "{}", "a:b", "ab1\\", "\\u20", "\\u2022", "••••"]
json_secrets = st.one_of(st.sampled_from(_WORDS), st.text(st.characters(blacklist_categories=("Cs",)),
                                                          min_size=4, max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(_WORDS), text)
keys = st.one_of(st.sampled_from(_WORDS), st.text(max_size=8))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(documents, st.lists(json_secrets, min_size=1, max_size=4), st.sampled_from([None, 2]), st.booleans())
def test_redaction_never_breaks_json(doc: object, secrets: list[str], indent: int | None, ascii_only: bool) -> None:
    """What ``--json`` and the web API print: valid, same keys and types, no secret as a value;
    and JSON masked as plain text by short secrets alone stays valid with the same keys."""
    red = Redactor()
    red.add(*secrets)
    RESULTS["documents"][0] += 1
    RESULTS["secrets"][0] += len(secrets)
    out = json.loads(red.dumps(doc, indent=indent, ensure_ascii=ascii_only))
    assert json_shape(out) == json_shape(doc)
    registered = set(red.secrets())
    assert not registered & set(json_strings(out))
    for s in (s for s in registered if len(s) >= SHORT_SECRET_LENGTH):
        assert all(s not in v for v in json_strings(out))
    short = Redactor()
    short.add(*(s for s in secrets if len(s) < SHORT_SECRET_LENGTH))
    as_text = json.loads(short(json.dumps(doc, indent=indent, ensure_ascii=ascii_only)))
    assert json_shape(as_text) == json_shape(doc)
    assert all(v == o or MASK in v for v, o in zip(json_strings(as_text), json_strings(doc)))


# File names git can hold: no NUL or "/", not "." / ".." / ".git", at most 100 characters.
names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=100) \
    .filter(lambda n: n not in (".", "..") and n.lower() != ".git" and len(n.encode()) < 250)


@settings(max_examples=40, deadline=None)
@given(st.lists(names, min_size=1, max_size=6, unique=True))
def test_git_status_round_trips_any_file_name(files: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        for name in files:
            (repo / name).write_bytes(b"x")
        status = asyncio.run(git_status(repo))
        RESULTS["file names"][0] += len(files)
        assert status.is_repo
        assert sorted(status.untracked) == sorted(files)


def teardown_module() -> None:
    add_part("fuzz", "counts", {k: v[0] for k, v in RESULTS.items()})
