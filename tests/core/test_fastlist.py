"""``integrations list`` answered without typer or pydantic must be the full command's answer.

Two halves: the light metadata (integrations/catalog.py) equals what each plugin class and its
pydantic credentials model declare, including its own "configured" rule, checked over every
combination of filled fields; and the fast path's output, run as a user runs it, equals the
full typer command's on the same credentials file and environment, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtrack.cli import fastlist
from devtrack.credentials import CredentialStore
from devtrack.integrations.catalog import BUILTIN_META, BUILTINS, describe
from devtrack.integrations.contract import FieldKind, ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.integrations.registry import default_registry

from ..thirdparty import THIRD_PARTY

# --------------------------------------------------------------------------- the catalog


def _light(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k != "configured"}


@pytest.mark.parametrize("plugin_id", list(BUILTINS))
def test_catalog_equals_the_plugin_class(plugin_id: str) -> None:
    cls = default_registry(include_entry_points=False).get(plugin_id)
    assert _light(BUILTIN_META[plugin_id]) == describe(cls)


def test_catalog_keeps_the_registry_order_and_the_result_kinds() -> None:
    assert list(BUILTIN_META) == list(BUILTINS)
    assert fastlist.RESULT_KINDS == {k.value for k in ResultKind}


def _sample(f: dict[str, Any]) -> str:
    """A value the field accepts, so that only "which fields are filled" varies."""
    if f["kind"] == FieldKind.URL:
        return "https://example.com"
    if f["choices"]:
        return str(f["choices"][0])
    if f["key"] in ("region", "regions"):
        return "us-east-1"
    return "value-1234"


@pytest.mark.parametrize("plugin_id", [p for p in BUILTINS if BUILTIN_META[p].get("configured", {}).get("needs")])
def test_a_needs_rule_agrees_with_the_model_for_every_combination(plugin_id: str, tmp_path: Path) -> None:
    """The rule as data against the model's own ``missing``, for all 2^n filled subsets."""
    meta = BUILTIN_META[plugin_id]
    keys = [f["key"] for f in meta["fields"]]
    samples = {f["key"]: _sample(f) for f in meta["fields"]}
    model = default_registry(include_entry_points=False).get(plugin_id).credentials_model
    for n in range(len(keys) + 1):
        for filled in itertools.combinations(keys, n):
            expected = model(**{k: samples[k] for k in filled}).is_configured()
            assert fastlist._complete(meta, set(filled), {}) is expected, (plugin_id, filled)


def test_github_call_rule_is_what_the_model_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = default_registry(include_entry_points=False).get("github").credentials_model
    for var in ("DEVTRACK_GITHUB_PATH", "DEVTRACK_GITHUB_REPO", "GIT_DIR"):
        monkeypatch.delenv(var, raising=False)
    bare, repo = tmp_path / "bare", tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    bare.mkdir()
    seen = []
    for where in (bare, repo):
        monkeypatch.chdir(where)
        seen.append((model().is_configured(), fastlist._complete(BUILTIN_META["github"], set(), os.environ)))
    assert seen == [(False, False) if _no_repo_above(bare) else (True, True), (True, True)]


def _no_repo_above(path: Path) -> bool:
    return not any((d / ".git").exists() for d in (path, *path.parents))


# --------------------------------------------------------------------------- fast against full

#: Runs ``main`` and records in the file $FASTLIST_MARK whether the fast path answered, and
#: which heavy modules were loaded by then.
FAST = """
import os, sys
from devtrack.cli import app, fastlist
real = fastlist.answer
def spy(*a, **k):
    done = real(*a, **k)
    heavy = sorted({"typer", "pydantic", "rich"} & set(sys.modules))
    open(os.environ["FASTLIST_MARK"], "w").write(repr((done, heavy)))
    return done
fastlist.answer = spy
app.main()
"""
#: Runs ``main`` with the fast path turned away: the full typer command answers.
FULL = """
from devtrack.cli import app, fastlist
fastlist.answer = lambda *a, **k: False
app.main()
"""

TOKEN = "vercel-token-3f9a1c7d2b"
KEY_ID = "AKIAEXAMPLE1234567890"


def _env(path: Path, mark: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEVTRACK_") and k not in ("GIT_DIR", "PYTHONDONTWRITEBYTECODE")}
    return env | {"DEVTRACK_CREDENTIALS": str(path), "COLUMNS": "200", "FASTLIST_MARK": str(mark)} | extra


def _both(tmp_path: Path, doc: dict[str, Any] | str | None, args: list[str], extra: dict[str, str] | None = None,
          ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], tuple[bool, list[str]]]:
    store = tmp_path / "credentials.json"
    if doc is not None:
        store.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
        store.chmod(0o600)
    mark = tmp_path / "mark"
    env = _env(store, mark, extra or {})
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    runs = [subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                           cwd=work, timeout=60) for code in (FAST, FULL)]
    return runs[0], runs[1], eval(mark.read_text())  # noqa: S307 - our own repr


def _entry(creds: dict[str, str], **more: Any) -> dict[str, Any]:
    return {"enabled": True, "credentials": creds, **more}


#: A file with a bit of everything: named connections, a disabled plugin and connection, test
#: records passing and failing, a masked identifier inside a test message, a third-party plugin.
FULL_DOC: dict[str, Any] = {
    "version": 2,
    "integrations": {
        "vercel": _entry({"token": TOKEN}, last_tested="2026-01-02T03:04:05+00:00",
                         test_result={"ok": True, "kind": "ok", "message": "2 projects", "elapsed_ms": 12,
                                      "details": {"projects": 2}},
                         connections={"acme": _entry({"token": "plain:acme-token-99"}),
                                      "beta": {"enabled": False, "credentials": {}}}),
        "sentry": _entry({"token": "env:MY_SENTRY_TOKEN", "org": "acme"}, last_tested="2026-01-03T00:00:00+00:00",
                         test_result={"ok": False, "kind": "auth", "message": "token refused",
                                      "elapsed_ms": 40.26, "details": {}}),
        "github": {"enabled": False, "credentials": {}},
        "aws-ec2": _entry({"access_key_id": KEY_ID, "secret_access_key": "s3cr3t-aws-key", "region": "eu-west-1"},
                          last_tested="2026-01-04T00:00:00+00:00",
                          test_result={"ok": False, "kind": "permission", "elapsed_ms": 1.0, "details": {},
                                       "message": f"key {KEY_ID} may not DescribeInstances"}),
        "upstash": _entry({"rest_url": "https://eu1.upstash.io", "rest_token": "rest-token-77"}),
        "cloudflare": _entry({"api_token": "cf-token-123", "account_id": "acct\u0007x"}),
        **({p: _entry({"token": "third-party-token-55"}) for p in THIRD_PARTY}),
    },
}

ENV_OVERRIDES = {
    "DEVTRACK_SUPABASE_ACCESS_TOKEN": "sbp_from_env_0001",
    "DEVTRACK_VERCEL__BETA__TOKEN": "beta-token-from-env",
    "DEVTRACK_HELICONE_API_KEY": "",  # set but empty: no override
}


@pytest.mark.parametrize("args", [["integrations", "list", "--json"], ["integrations", "list"]])
@pytest.mark.parametrize("case", ["no file", "everything"])
def test_fast_path_prints_what_the_full_command_prints(tmp_path: Path, case: str, args: list[str]) -> None:
    doc, extra = (None, {}) if case == "no file" else (FULL_DOC, ENV_OVERRIDES)
    fast, full, (answered, heavy) = _both(tmp_path, doc, args, extra)
    assert full.returncode == 0, full.stderr
    assert (fast.stdout, fast.stderr, fast.returncode) == (full.stdout, full.stderr, full.returncode)
    assert answered, "the fast path handed over: this case no longer tests it"
    assert heavy == ([] if "--json" in args else ["rich"])
    if "--json" in args:
        rows = {c["id"]: c for r in json.loads(fast.stdout) for c in r["connections"]}
        assert [r["id"] for r in json.loads(fast.stdout)] == [*BUILTINS, *THIRD_PARTY]
        if case == "everything":
            assert KEY_ID not in fast.stdout and TOKEN not in fast.stdout
            assert rows["vercel:beta"]["configured"] and not rows["vercel:beta"]["enabled"]
            assert rows["supabase"]["configured"] and rows["cloudflare"]["configured"]
            assert not rows["helicone"]["configured"] and not rows["github"]["enabled"]
            assert all(rows[p]["configured"] for p in THIRD_PARTY)


def test_a_partly_filled_connection_is_left_to_the_full_command(tmp_path: Path) -> None:
    """Only the model can say whether the values there validate: the fast path hands over."""
    doc = {"version": 2, "integrations": {"sentry": _entry({"org": "acme", "base_url": "http://not-loopback"})}}
    fast, full, (answered, _) = _both(tmp_path, doc, ["integrations", "list", "--json"])
    assert not answered
    assert full.returncode == 0 and (fast.stdout, fast.returncode) == (full.stdout, full.returncode)
    assert {r["id"]: r["configured"] for r in json.loads(full.stdout)}["sentry"] is True  # invalid URL


@pytest.mark.parametrize("record", [{"ok": "yes", "kind": "ok", "message": "m"}, {"ok": True, "kind": "weird", "message": "m"}])
def test_a_test_record_pydantic_would_judge_is_left_to_the_full_command(tmp_path: Path, record: dict[str, Any]) -> None:
    doc = {"version": 2, "integrations": {"vercel": _entry({}, test_result=record)}}
    fast, full, (answered, _) = _both(tmp_path, doc, ["integrations", "list", "--json"])
    assert not answered
    assert full.returncode == 0 and (fast.stdout, fast.returncode) == (full.stdout, full.returncode)


@pytest.mark.parametrize("args", [["integrations", "list", "--json"], ["integrations", "list"]])
def test_a_corrupt_file_gets_the_same_error_and_exit_code(tmp_path: Path, args: list[str]) -> None:
    fast, full, (answered, _) = _both(tmp_path, '{"version": 2, "integrations": {', args)
    assert not answered
    assert full.returncode == 1 and "not valid JSON" in full.stdout + full.stderr
    assert (fast.stdout, fast.stderr, fast.returncode) == (full.stdout, full.stderr, full.returncode)


def test_statuses_agree_with_the_manager_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same comparison without subprocesses, on the data rather than the text."""
    from devtrack.cli.integrations import _status_json

    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(FULL_DOC), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for var in ("DEVTRACK_GITHUB_PATH", "DEVTRACK_GITHUB_REPO", "GIT_DIR"):  # read by GitHub's rule
        monkeypatch.delenv(var, raising=False)
    env = dict(ENV_OVERRIDES)
    manager = IntegrationManager(store=CredentialStore(path), environ=env)
    metas = [*BUILTIN_META.values(), *fastlist._third_party()]
    assert fastlist.statuses(CredentialStore(path).read(), metas, env) == [
        _status_json(s) for s in manager.statuses()
    ]
