"""AWS has no OpenAPI: the botocore models stand in. Every Action the plugin-facing proxy saw,
and each of its parameters, must exist in the model (trimmed copies here; operations the trim
lacks come from the botocore that boto3 ships)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devtrack.sandbox import Sandbox
from devtrack.sandbox.aws_ec2_emulator import REGION, AwsEc2Emulator

from .checker import SPECS

MODELS = {
    "ec2": json.loads((SPECS / "aws" / "ec2-2016-11-15-trimmed.json").read_text()),
    "sts": json.loads((SPECS / "aws" / "sts-2011-06-15-trimmed.json").read_text()),
}
COMMON = {"Action", "Version"}


def _model(service: str, action: str) -> dict[str, Any]:
    model = MODELS[service]
    if action in model["operations"]:
        return model
    import botocore.loaders

    version = "2016-11-15" if service == "ec2" else "2011-06-15"
    return botocore.loaders.Loader().load_service_model(service, "service-2", version)  # type: ignore[no-any-return]


def action_problems(service: str, params: dict[str, str]) -> list[str]:
    """Why a query-API request (its form parameters) is not an operation of the model."""
    action = params.get("Action", "")
    model = _model(service, action)
    op = model["operations"].get(action)
    if op is None:
        return [f"{service}: unknown action {action!r}"]
    members = model["shapes"][op["input"]["shape"]]["members"] if "input" in op else {}
    wire = set()
    for name, member in members.items():
        wire.add(name)
        if "locationName" in member:
            wire.add(member["locationName"][:1].upper() + member["locationName"][1:])
    top = {re.split(r"\.", k)[0] for k in params} - COMMON
    return [f"{service} {action}: unknown parameter {p!r}" for p in sorted(top - wire)]


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsEc2Emulator]:
    with Sandbox(["aws-ec2"], seed=9, scale={"aws_instances": 7}) as sb:
        emu = sb.emulator("aws-ec2")
        assert isinstance(emu, AwsEc2Emulator)
        yield emu


def test_recorded_calls_exist_in_the_models(aws: AwsEc2Emulator) -> None:
    kwargs = {"region_name": REGION, "endpoint_url": aws.url, "aws_access_key_id": aws.access_key_id,
              "aws_secret_access_key": aws.secret_access_key}
    ec2, sts = boto3.client("ec2", **kwargs), boto3.client("sts", **kwargs)
    sts.get_caller_identity()
    list(ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}], PaginationConfig={"PageSize": 5}))
    ec2.describe_instances(InstanceIds=aws.instance_ids[:2])
    ec2.describe_instance_status(IncludeAllInstances=True)
    services = {"GetCallerIdentity": "sts"}
    problems = [p for r in aws.requests.all()
                for p in action_problems(services.get(r.body["Action"], "ec2"), r.body)]
    assert problems == [] and len(aws.requests.all()) >= 4


def test_the_check_catches_a_wrong_call() -> None:
    assert action_problems("ec2", {"Action": "DescribeInstancez"})
    assert action_problems("ec2", {"Action": "DescribeInstances", "PageSize": "5"})
    assert action_problems("ec2", {"Action": "DescribeInstances", "InstanceId.1": "i-1", "MaxResults": "5"}) == []
