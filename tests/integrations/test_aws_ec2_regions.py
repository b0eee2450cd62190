"""One AWS EC2 connection following several regions: real boto3 against moto through the sandbox.

The sandbox seeds instances in us-east-1 and eu-west-1 and its connection follows both. moto
reads the region from each request's SigV4 signing scope (as AWS reads it from the host), and
the sandbox's proxy reads the same scope to fault one region only.
"""

from __future__ import annotations

import pytest

from devtrack.integrations.contract import ResultKind
from devtrack.integrations.manager import CredentialsInvalid, IntegrationManager
from devtrack.integrations.plugins.aws_ec2 import AwsEc2Credentials
from devtrack.sandbox import Sandbox
from devtrack.sandbox.aws_ec2_emulator import REGION, SECOND_REGION, AwsEc2Emulator

from .test_aws_ec2 import _requests_match_the_botocore_models  # noqa: F401  (autouse: every call is in the models)


def _emu(sb: Sandbox) -> AwsEc2Emulator:
    emu = sb.emulator("aws-ec2")
    assert isinstance(emu, AwsEc2Emulator)
    return emu


def _actions(emu: AwsEc2Emulator, action: str) -> int:
    return emu.actions().count(action)


async def test_both_regions_are_followed_and_named(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok, res.message
    assert f"in {REGION}, {SECOND_REGION}." in res.message and res.details["regions"] == [REGION, SECOND_REGION]
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    by_region = {r: {i.id for i in data.records.instances if i.region == r} for r in (REGION, SECOND_REGION)}
    assert by_region == {REGION: set(emu.ids_in(REGION)), SECOND_REGION: set(emu.ids_in(SECOND_REGION))}
    assert by_region[SECOND_REGION], "the sandbox seeds the second region"
    assert data.health.metrics["regions"] == 2 and data.health.metrics["regions_failed"] == 0


async def test_regions_wins_over_region(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    sandbox_manager.set_credentials("aws-ec2", {"region": REGION, "regions": SECOND_REGION})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    assert {i.id for i in data.records.instances} == set(emu.ids_in(SECOND_REGION))
    assert {i.region for i in data.records.instances} == {SECOND_REGION}
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok and f"in {SECOND_REGION}." in res.message and res.details["region"] == SECOND_REGION


async def test_a_failing_region_degrades_but_hides_nothing_else(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    fault = emu.fault_region(SECOND_REGION, status=403)
    data = await sandbox_manager.fetch("aws-ec2")
    assert fault.fired >= 1
    assert data.error is None, data.error
    assert {i.id for i in data.records.instances} == set(emu.ids_in(REGION))
    assert data.health.status == "degraded"
    assert data.health.detail.startswith(f"{SECOND_REGION} failed: ") and "lack a permission" in data.health.detail
    assert data.health.metrics["regions_failed"] == 1
    assert any(e.severity == "warning" and SECOND_REGION in e.title for e in data.events)
    # The connection test names the region the key may not read, and only that one.
    res = await sandbox_manager.test("aws-ec2")
    assert res.kind == ResultKind.PERMISSION and f"ec2:DescribeInstances in {SECOND_REGION}. Attach" in res.message
    # A region that errors: the test says which, and keeps the kind of its failure.
    emu.region_faults.clear()
    emu.fault_region(SECOND_REGION, status=500)
    res = await sandbox_manager.test("aws-ec2")
    assert res.kind == ResultKind.UNAVAILABLE and res.message.startswith(f"{SECOND_REGION}: AWS answered 500")
    assert res.details["failed_regions"] == {SECOND_REGION: "unavailable"}


async def test_a_slow_region_times_out_alone(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """A region still silent near the deadline is reported; the one that answered is kept."""
    emu = _emu(sb)
    emu.fault_region(SECOND_REGION, latency=6)
    sandbox_manager.deadline_override = 4
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    assert {i.id for i in data.records.instances} == set(emu.ids_in(REGION))
    assert data.health.status == "degraded" and f"{SECOND_REGION} failed: AWS did not answer in time" in data.health.detail


async def test_every_region_failing_is_an_error_naming_each(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    for region in (REGION, SECOND_REGION):
        emu.fault_region(region, status=500)
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.UNAVAILABLE
    assert data.error.message.startswith("Every region failed: ")
    assert f"{REGION}: " in data.error.message and f"{SECOND_REGION}: " in data.error.message
    assert data.records.instances == []


async def test_all_follows_every_enabled_region(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    enabled = sorted(r["RegionName"] for r in emu.client().describe_regions()["Regions"]
                     if r["OptInStatus"] != "not-opted-in")
    emu.requests.clear()
    sandbox_manager.set_credentials("aws-ec2", {"regions": "all"})
    # Which regions are followed, not how fast: a boto3 client per region (about 30) against one
    # moto on a loaded 2-core machine running the suite in parallel can outlast the user deadline.
    sandbox_manager.deadline_override = 60
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    assert {i.id: i.region for i in data.records.instances} == emu.instance_region
    assert data.health.metrics["regions"] == len(enabled) > 2
    assert _actions(emu, "DescribeRegions") == 1 and _actions(emu, "DescribeInstances") == len(enabled)
    res = await sandbox_manager.test("aws-ec2")
    assert res.ok and res.details["regions"] == enabled and f"in {len(enabled)} regions." in res.message


async def test_all_without_describe_regions_is_permission(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    emu = _emu(sb)
    sandbox_manager.set_credentials("aws-ec2", {"regions": "all", "access_key_id": emu.readonly_key_id,
                                                "secret_access_key": emu.readonly_secret})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.PERMISSION
    assert "ec2:DescribeRegions" in data.error.message


async def test_instance_ids_across_regions(sb: Sandbox, sandbox_manager: IntegrationManager) -> None:
    """An id lives in one region: the others are not an error, an id found nowhere is said."""
    emu = _emu(sb)
    east, west = emu.ids_in(REGION)[0], emu.ids_in(SECOND_REGION)[0]
    sandbox_manager.set_credentials("aws-ec2", {"instance_ids": f"{east}, {west}"})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None, data.error
    assert {(i.id, i.region) for i in data.records.instances} == {(east, REGION), (west, SECOND_REGION)}
    assert (await sandbox_manager.test("aws-ec2")).ok
    ghost = "i-0123456789abcdef0"
    sandbox_manager.set_credentials("aws-ec2", {"instance_ids": f"{east}, {ghost}"})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is None and data.health.status == "degraded" and ghost in data.health.detail
    sandbox_manager.set_credentials("aws-ec2", {"instance_ids": ghost})
    data = await sandbox_manager.fetch("aws-ec2")
    assert data.error is not None and data.error.kind == ResultKind.NOT_FOUND and ghost in data.error.message


def test_region_names_are_checked_when_saved(sandbox_manager: IntegrationManager) -> None:
    with pytest.raises(CredentialsInvalid) as err:
        sandbox_manager.set_credentials("aws-ec2", {"regions": "us-east-1, mars-1"})
    assert "'mars-1' is not a region name" in str(err.value) and "us-east-1, eu-west-1" in str(err.value)
    assert sandbox_manager.credentials("aws-ec2").value("regions") == f"{REGION},{SECOND_REGION}"  # kept


def test_regions_alone_is_configured() -> None:
    assert AwsEc2Credentials(access_key_id="AKIAX", secret_access_key="s", regions="eu-west-1").missing() == []
    assert AwsEc2Credentials(access_key_id="AKIAX", secret_access_key="s", regions="ALL").follows_all()
    assert AwsEc2Credentials(access_key_id="AKIAX", secret_access_key="s").missing() == ["region"]
    creds = AwsEc2Credentials(regions="eu-west-1, us-east-1,eu-west-1")
    assert creds.listed_regions() == ["eu-west-1", "us-east-1"] and creds.home_region() == "eu-west-1"
