"""The manager: merging, masking, concurrent fetches with deadlines and isolation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from devtrack.credentials import CredentialStore
from devtrack.integrations.contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Health,
    Integration,
    IntegrationData,
    ResultKind,
    field,
)
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager, env_key
from devtrack.integrations.registry import Registry

from ..timing import active_since


class _Creds(Credentials):
    token: SecretStr | None = field(label="Token", kind=FieldKind.TOKEN)
    url: str | None = field(label="URL", kind=FieldKind.URL, required=False)


def _plugin(pid: str, behaviour: str) -> type[Integration]:
    class P(Integration):
        id = pid
        name = pid.title()
        description = "test plugin"
        credentials_model = _Creds
        deadline = 1.5

        async def test_connection(self, creds: Credentials) -> ConnectionResult:
            return await self._go(creds, lambda: ConnectionResult.success("fine"))

        async def get_data(self, creds: Credentials) -> IntegrationData:
            return await self._go(creds, lambda: IntegrationData(health=Health(status="healthy")))

        async def _go(self, creds, ok):  # type: ignore[no-untyped-def]
            if behaviour == "slow":
                await asyncio.sleep(30)
            if behaviour == "raise":
                raise RuntimeError(f"boom with {creds.value('token')}")
            if behaviour == "wait":
                await asyncio.sleep(0.3)
            return ok()

    return P


def _manager(tmp_path: Path, env: dict[str, str] | None = None, **plugins: str) -> IntegrationManager:
    reg = Registry()
    for pid, behaviour in plugins.items():
        reg.add(pid, _plugin(pid, behaviour))
    return IntegrationManager(store=CredentialStore(tmp_path / "c.json"), registry=reg, environ=env or {})


def test_merge_and_mask(tmp_path: Path) -> None:
    m = _manager(tmp_path, a="ok")
    m.set_credentials("a", {"token": "tok-abcdefghijk", "url": "https://x.example"})
    m.set_credentials("a", {"token": "", "url": "https://x.example"})  # same URL: the token stays
    assert m.stored_credentials("a") == {"token": "tok-abcdefghijk", "url": "https://x.example"}
    assert m.masked("a") == {"token": "tok-••••hijk", "url": "https://x.example"}
    with pytest.raises(CredentialsInvalid) as err:
        m.set_credentials("a", {"url": "http://not-loopback.example"})
    assert "url" in err.value.errors
    assert m.stored_credentials("a")["url"] == "https://x.example"


def test_env_key() -> None:
    assert env_key("aws-ec2", "secret_access_key") == "DEVTRACK_AWS_EC2_SECRET_ACCESS_KEY"


async def test_fetch_all_isolates_failures_and_runs_concurrently(tmp_path: Path) -> None:
    m = _manager(tmp_path, good="wait", good2="wait", slow="slow", broken="raise", unset="ok")
    for pid in ("good", "good2", "slow", "broken"):
        m.set_credentials(pid, {"token": f"{pid}-token-123456"})
    assert m.fetchable() == ["good", "good2", "slow", "broken"]
    started = time.perf_counter()
    results = {d.id: d for d in await m.fetch_many()}
    elapsed = active_since(started)
    assert elapsed < 3  # 0.3 s + 0.3 s concurrently, the slow one cut at its 1.5 s deadline
    assert results["good"].health.status == "healthy" and results["good"].error is None
    assert results["good2"].health.status == "healthy"
    assert results["slow"].error is not None and results["slow"].error.kind == ResultKind.TIMEOUT
    assert results["broken"].error is not None and results["broken"].error.kind == ResultKind.ERROR
    assert "broken-token-123456" not in results["broken"].model_dump_json()


async def test_test_records_result_and_time(tmp_path: Path) -> None:
    m = _manager(tmp_path, a="ok", b="ok")
    res = await m.test("a")
    assert res.kind == ResultKind.CONFIG and "Token" in res.message
    m.set_credentials("a", {"token": "tok-abcdefghijk"})
    res = await m.test("a")
    assert res.ok and res.elapsed_ms >= 0
    st = m.status("a")
    assert st.test_result is not None and st.test_result.ok and st.last_tested is not None
    # Changing credentials clears the stale result.
    m.set_credentials("a", {"url": "https://y.example"})
    assert m.status("a").test_result is None


async def test_disabled_plugins_are_not_fetched(tmp_path: Path) -> None:
    m = _manager(tmp_path, a="ok", b="ok")
    m.set_credentials("a", {"token": "tok-abcdefghijk"})
    m.set_credentials("b", {"token": "tok-abcdefghijk"})
    m.set_enabled("b", False)
    assert [d.id for d in await m.fetch_many()] == ["a"]


async def test_env_override_is_used_not_stored(tmp_path: Path) -> None:
    m = _manager(tmp_path, {"DEVTRACK_A_TOKEN": "env-token-123456789"}, a="ok")
    assert m.is_configured("a")
    assert (await m.test("a")).ok
    assert m.stored_credentials("a") == {}


def test_save_hooks_run_in_the_same_write(tmp_path: Path) -> None:
    m = _manager(tmp_path, a="ok")
    seen: list[str] = []

    def hook(mgr: IntegrationManager, doc: dict, pid: str) -> None:
        seen.append(pid)
        doc["ai_proxy"]["mirror"] = doc["integrations"][pid]["credentials"].get("token")

    m.save_hooks.append(hook)
    m.set_credentials("a", {"token": "tok-abcdefghijk"})
    assert m.store.read()["ai_proxy"]["mirror"] == "tok-abcdefghijk"
    m.unset("a")
    assert m.store.read()["ai_proxy"]["mirror"] is None
    assert seen == ["a", "a"]


async def test_a_batch_reads_the_store_once_however_many_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fetch reading the file made fetching n connections cost n reads of n entries."""
    m = _manager(tmp_path, a="ok")
    for n in range(30):
        m.save_credentials("a" if n == 0 else f"a:c{n}", {"token": f"token-{n:04d}-abcdefgh"})
    reads = []
    load = CredentialStore._load
    monkeypatch.setattr(CredentialStore, "_load", lambda self: reads.append(1) or load(self))
    ids = m.fetchable()
    reads.clear()
    results = await m.fetch_many(ids)
    assert len(results) == 30 and all(r.error is None for r in results)
    assert len(reads) == 1
    reads.clear()
    assert len(await m.fetch_many()) == 30  # the ids chosen from the same read
    assert len(reads) == 1
    reads.clear()
    tested = await m.test_many()
    assert len(tested) == 30 and all(r.ok for _, r in tested)
    assert len(reads) == 2  # one to test, one to record the results


async def test_a_batch_on_a_corrupt_store_gives_each_connection_its_error(tmp_path: Path) -> None:
    m = _manager(tmp_path, a="ok", b="ok")
    m.set_credentials("a", {"token": "token-aaaa-abcdefgh"})
    (tmp_path / "c.json").write_text("{not json")
    results = await m.fetch_many(["a", "b"])
    assert [r.error is not None for r in results] == [True, True]
    assert all("not valid JSON" in (r.error.message if r.error else "") for r in results)
