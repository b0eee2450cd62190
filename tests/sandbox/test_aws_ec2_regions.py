"""The AWS EC2 emulator's second region, and faults for one region only (read from the SigV4 scope)."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.parsers import ResponseParserError

from devtrack.sandbox import Sandbox
from devtrack.sandbox.aws_ec2_emulator import REGION, SECOND_REGION, AwsEc2Emulator

from .test_aws_ec2 import NO_RETRY, aws, box  # noqa: F401  (its sandbox: 12 instances here, 3 in SECOND_REGION)


def ec2(aws: AwsEc2Emulator, region: str) -> object:
    return boto3.client("ec2", region_name=region, endpoint_url=aws.url, config=NO_RETRY,
                        aws_access_key_id=aws.access_key_id, aws_secret_access_key=aws.secret_access_key)


def found(client: object) -> dict[str, dict[str, object]]:
    pages = client.describe_instances()  # type: ignore[attr-defined]
    return {i["InstanceId"]: i for r in pages["Reservations"] for i in r["Instances"]}


def test_each_region_holds_its_own_instances(aws: AwsEc2Emulator) -> None:
    east, west = found(ec2(aws, REGION)), found(ec2(aws, SECOND_REGION))
    assert set(east) == set(aws.ids_in(REGION)) and len(east) == 12
    assert set(west) == set(aws.ids_in(SECOND_REGION)) and len(west) == 3
    assert aws.instance_ids == aws.ids_in(REGION) + aws.ids_in(SECOND_REGION)
    names = sorted(next(t["Value"] for t in i["Tags"] if t["Key"] == "Name") for i in west.values())  # type: ignore[attr-defined]
    assert all("-eu-" in n for n in names)
    assert sorted(i["State"]["Name"] for i in west.values()) == ["running", "running", "stopped"]  # type: ignore[index]
    assert not aws.impaired & set(west)  # the one impaired instance stays in the first region


def test_a_region_fault_fires_for_that_region_only(aws: AwsEc2Emulator) -> None:
    fault = aws.fault_region(SECOND_REGION, status=500)
    assert set(found(ec2(aws, REGION))) == set(aws.ids_in(REGION))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        found(ec2(aws, SECOND_REGION))
    assert err.value.response["Error"]["Code"] == "InternalError"
    assert SECOND_REGION in err.value.response["Error"]["Message"]
    assert fault.fired == 1


def test_a_malformed_region_answer_is_not_xml(aws: AwsEc2Emulator) -> None:
    aws.fault_region(REGION, malformed=True, times=1)
    with pytest.raises(ResponseParserError):
        found(ec2(aws, REGION))
    assert set(found(ec2(aws, REGION))) == set(aws.ids_in(REGION))  # times=1: spent


def test_region_faults_say_what_they_cannot_do_and_reset_clears_them(box: Sandbox, aws: AwsEc2Emulator) -> None:
    with pytest.raises(ValueError, match="status, latency, malformed, not reset"):
        aws.fault_region(REGION, reset=True)
    aws.fault_region(SECOND_REGION, status=503)
    box.reset()
    assert len(aws.region_faults) == 0
    assert set(found(ec2(aws, SECOND_REGION))) == set(aws.ids_in(SECOND_REGION))
