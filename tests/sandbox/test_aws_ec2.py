"""The AWS EC2 emulator: moto behind the proxy; states, paging, key checks, faults, isolation."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from devtrack.sandbox import Sandbox
from devtrack.sandbox.aws_ec2_emulator import REGION, AwsEc2Emulator

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(["aws-ec2"], seed=2, scale={"aws_instances": 12}) as sb:
        yield sb


@pytest.fixture
def aws(box: Sandbox) -> Iterator[AwsEc2Emulator]:
    box.reset()
    emu = box.emulator("aws-ec2")
    assert isinstance(emu, AwsEc2Emulator)
    yield emu
    box.reset()


def client(aws: AwsEc2Emulator, service: str = "ec2", key: str | None = None, secret: str | None = None) -> object:
    return boto3.client(service, region_name=REGION, endpoint_url=aws.url, config=NO_RETRY,
                        aws_access_key_id=key or aws.access_key_id,
                        aws_secret_access_key=secret or aws.secret_access_key)


def instances(pages: list[dict[str, object]]) -> list[dict[str, object]]:
    return [i for p in pages for r in p["Reservations"] for i in r["Instances"]]  # type: ignore[index, union-attr]


def test_credentials_and_env(box: Sandbox, aws: AwsEc2Emulator) -> None:
    creds = box.credentials()["aws-ec2"]
    assert creds == {"access_key_id": aws.access_key_id, "secret_access_key": aws.secret_access_key,
                     "region": REGION, "regions": "us-east-1,eu-west-1"}
    assert box.env() == {"DEVTRACK_AWS_EC2_BASE_URL": aws.url}


def test_seeded_instances_in_every_state_with_names_and_pages(aws: AwsEc2Emulator) -> None:
    ec2 = client(aws)
    pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))  # type: ignore[attr-defined]
    found = instances(pages)
    assert len(pages) >= 3 and len(found) == 12
    states = {i["State"]["Name"] for i in found}  # type: ignore[index]
    assert states == {"pending", "running", "stopping", "stopped", "shutting-down", "terminated"}
    assert all(any(t["Key"] == "Name" for t in i["Tags"]) for i in found)  # type: ignore[union-attr]
    assert aws.actions() == ["DescribeInstances"] * len(pages)
    assert aws.requests.all()[0].body["Action"] == "DescribeInstances"


def test_sts_identity_is_the_emulator_account(aws: AwsEc2Emulator) -> None:
    ident = client(aws, "sts").get_caller_identity()  # type: ignore[attr-defined]
    assert ident["Account"] == aws.account_id


def test_unknown_key_fails_like_aws(aws: AwsEc2Emulator) -> None:
    bad = {"key": "AKIA" + "Z" * 16, "secret": "x" * 40}
    with pytest.raises(botocore.exceptions.ClientError) as sts_err:
        client(aws, "sts", **bad).get_caller_identity()  # type: ignore[attr-defined]
    assert sts_err.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert sts_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as ec2_err:
        client(aws, **bad).describe_instances()  # type: ignore[attr-defined]
    assert ec2_err.value.response["Error"]["Code"] == "AuthFailure"
    assert ec2_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_missing_permission_is_told_apart_by_dry_run(aws: AwsEc2Emulator) -> None:
    readonly = client(aws, key=aws.readonly_key_id, secret=aws.readonly_secret)
    for kwargs in ({"DryRun": True}, {}):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            readonly.describe_instances(**kwargs)  # type: ignore[attr-defined]
        assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert client(aws, "sts", key=aws.readonly_key_id, secret=aws.readonly_secret).get_caller_identity()  # type: ignore[attr-defined]
    with pytest.raises(botocore.exceptions.ClientError) as ok:
        client(aws).describe_instances(DryRun=True)  # type: ignore[attr-defined]
    assert ok.value.response["Error"]["Code"] == "DryRunOperation"


def test_faults_reach_boto3(aws: AwsEc2Emulator) -> None:
    aws.faults.add(status=503, times=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(aws).describe_instances()  # type: ignore[attr-defined]
    assert err.value.response["Error"]["Code"] == "RequestLimitExceeded"
    aws.faults.add(reset=True, times=1)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client(aws).describe_instances()  # type: ignore[attr-defined]
    retrying = boto3.client("ec2", region_name=REGION, endpoint_url=aws.url,
                            aws_access_key_id=aws.access_key_id, aws_secret_access_key=aws.secret_access_key,
                            config=Config(retries={"max_attempts": 3, "mode": "standard"}))
    aws.faults.add(status=500, times=1)
    assert instances([retrying.describe_instances()])
    assert aws.requests.count() == 4 and [r.fault for r in aws.requests.all()] == ["status", "reset", "status", None]


def test_two_emulators_do_not_share_instances(aws: AwsEc2Emulator) -> None:
    other = AwsEc2Emulator(seed=2, scale={"aws_instances": 1})
    other.serve()
    try:
        ids = [i["InstanceId"] for i in instances([other.client().describe_instances()])]
        assert ids == other.ids_in(REGION) and not set(ids) & set(aws.instance_ids)
    finally:
        other.stop()
