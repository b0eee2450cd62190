"""The AWS EC2 plugin: real boto3 against moto, behind the sandbox's recording, fault-injecting proxy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import IntegrationManager
from devtrack.sandbox import Sandbox

from ..contracts.test_aws_contract import action_problems
from ..timing import active_since


@pytest.fixture(autouse=True)
def _requests_match_the_botocore_models(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every call the plugin made in a test is an operation, with parameters, of the AWS model."""
    if "sb" not in request.fixturenames:
        yield
        return
    sb = request.getfixturevalue("sb")
    yield
    calls = [r.body for r in sb.emulator("aws-ec2").requests.all() if isinstance(r.body, dict) and r.body.get("Action")]
    services = {"GetCallerIdentity": "sts"}
    assert [p for c in calls for p in action_problems(services.get(c["Action"], "ec2"), c)] == []


def _emu(sb: Sandbox):  # type: ignore[no-untyped-def]
    return sb.emulator("aws-ec2")


async def test_identity_and_instances(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok, res.message
    emu = _emu(sb)
    assert res.details["account"] == emu.account_id and res.details["arn"].startswith("arn:aws:")
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    assert {i.id for i in data.records.instances} == set(emu.instance_ids)
    states = {i.state for i in data.records.instances}
    assert {"running", "stopped"} <= states
    # The sandbox connection follows two regions: each instance carries the one it lives in.
    assert all(i.type and i.region == emu.instance_region[i.id] for i in data.records.instances)
    assert {i.region for i in data.records.instances} == {"us-east-1", "eu-west-1"}
    assert any(i.name for i in data.records.instances)
    # The sandbox's impaired instance fails its status checks: health is degraded, with a warning.
    assert emu.impaired and {i.id for i in data.records.instances if i.health == "impaired"} == emu.impaired
    assert data.health.status == "degraded" and "impaired" in data.health.detail
    assert any(e.severity == "warning" and "impaired" in e.title for e in data.events)
    assert data.health.metrics["instances"] == len(emu.instance_ids)
    assert "secret" not in data.model_dump_json().lower() or emu.secret_access_key not in data.model_dump_json()


async def test_bad_key_is_auth(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.set_credentials("aws-ec2", {"access_key_id": "AKIAWRONGWRONGWRONG1", "secret_access_key": "x" * 40})
    res = await sandbox_manager.test("aws-ec2")
    assert res.kind == ResultKind.AUTH and "InvalidClientTokenId" in res.message
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.AUTH


async def test_missing_permission_via_dry_run(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    sandbox_manager.set_credentials("aws-ec2", {"access_key_id": emu.readonly_key_id, "secret_access_key": emu.readonly_secret})
    res = await sandbox_manager.test("aws-ec2")
    assert res.kind == ResultKind.PERMISSION
    assert "ec2:DescribeInstances" in res.message and res.details["account"] == emu.account_id
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION


async def test_unknown_instance_id_is_not_found(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sandbox_manager.set_credentials("aws-ec2", {"instance_ids": "i-0123456789abcdef0"})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND


async def test_selected_instances_only(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    ids = _emu(sb).instance_ids[:2]
    sandbox_manager.set_credentials("aws-ec2", {"instance_ids": ", ".join(ids)})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None and {i.id for i in data.records.instances} == set(ids)


def test_pagination_over_three_pages(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import asyncio
    from pathlib import Path

    from devtrack.credentials import CredentialStore
    from devtrack.integrations.plugins import aws_ec2

    monkeypatch.setattr(aws_ec2, "PAGE_SIZE", 5)
    with Sandbox(["aws-ec2"], seed=7, scale={"aws_instances": 13, "aws_second_region_instances": 0}) as big:
        for key, value in big.env().items():
            monkeypatch.setenv(key, value)
        store = CredentialStore(big.write_credentials(Path(str(tmp_path)) / "c.json"))
        manager = IntegrationManager(store=store)
        manager.unset("aws-ec2", ["regions"])  # paging is per region: one region's pages, in order
        data = asyncio.run(manager.fetch("aws-ec2"))
        assert data.error is None, data.error
        emu = big.emulator("aws-ec2")
        assert {i.id for i in data.records.instances} == set(emu.instance_ids) and len(emu.instance_ids) == 13
        pages = [r for r in emu.requests.all() if isinstance(r.body, dict) and r.body.get("Action") == "DescribeInstances"]
        assert len(pages) >= 3, [r.body for r in emu.requests.all()]
        assert [bool(p.body.get("NextToken")) for p in pages] == [False] + [True] * (len(pages) - 1)


async def test_throttling_is_retried(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    sb.faults("aws-ec2").add(route="/**", status=503, times=1)
    started = time.perf_counter()
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok, res.message
    assert active_since(started) < 10


async def test_named_profile_from_aws_config(sb: Sandbox, sandbox_manager: IntegrationManager,
                                             tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A profile from ~/.aws files instead of keys: botocore reads the key pair from there."""
    emu = _emu(sb)
    profile = f"devtrack-test-{time.monotonic_ns()}"  # sessions are kept per profile name
    (tmp_path / "credentials").write_text(
        f"[{profile}]\naws_access_key_id = {emu.access_key_id}\naws_secret_access_key = {emu.secret_access_key}\n")
    (tmp_path / "config").write_text(f"[profile {profile}]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    sandbox_manager.unset("aws-ec2", ["access_key_id", "secret_access_key"])
    sandbox_manager.set_credentials("aws-ec2", {"profile": profile})
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok, res.message
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None and {i.id for i in data.records.instances} == set(emu.instance_ids)
    # A key pair next to it still works after the profile: the two never share a client.
    sandbox_manager.unset("aws-ec2", ["profile"])
    sandbox_manager.set_credentials("aws-ec2", {"access_key_id": emu.access_key_id,
                                                "secret_access_key": emu.secret_access_key})
    assert (await sandbox_manager.test("aws-ec2")).ok


async def test_unknown_profile_is_config(sb: Sandbox, sandbox_manager: IntegrationManager,
                                         tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    sandbox_manager.unset("aws-ec2", ["access_key_id", "secret_access_key"])
    sandbox_manager.set_credentials("aws-ec2", {"profile": "no-such-profile"})
    res = await sandbox_manager.test("aws-ec2")
    assert res.kind == ResultKind.CONFIG and "no-such-profile" in res.message
