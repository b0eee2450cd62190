"""AWS EC2: EC2 instances with state, type, name, addresses and status checks."""

from __future__ import annotations

from pydantic import SecretStr

from ..contract import (
    ConnectionResult,
    Credentials,
    FieldKind,
    Integration,
    IntegrationData,
    field,
    unavailable,
)


class AwsEc2Credentials(Credentials):
    access_key_id: str | None = field(
        label="Access key ID", kind=FieldKind.TEXT, required=False, placeholder="AKIA…",
    )
    secret_access_key: SecretStr | None = field(
        label="Secret access key", kind=FieldKind.TOKEN, required=False,
    )
    session_token: SecretStr | None = field(
        label="Session token", kind=FieldKind.TOKEN, required=False,
        help="Only for temporary credentials (ASIA… keys).",
    )
    region: str | None = field(
        label="Region", kind=FieldKind.REGION, placeholder="us-east-1",
    )
    profile: str | None = field(
        label="Profile", kind=FieldKind.TEXT, required=False,
        help="A named profile from ~/.aws/config, instead of keys.",
    )
    instance_ids: str | None = field(
        label="Instance IDs", kind=FieldKind.TEXT, required=False,
        placeholder="i-0123…, i-0456…", help="Comma-separated; blank for every instance.",
    )

    def missing(self) -> list[str]:
        """A region, and either a key pair or a profile."""
        out = [] if self.value("region") else ["region"]
        if not self.value("profile"):
            out += [k for k in ("access_key_id", "secret_access_key") if not self.value(k)]
        return out


class AwsEc2Integration(Integration):
    id = "aws-ec2"
    name = "AWS EC2"
    description = "EC2 instances with state, type, name, addresses and status checks."
    docs_url = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
    setup_guide = (
        "Create an IAM user or role with ec2:DescribeInstances and ec2:DescribeInstanceStatus (the ReadOnlyAccess policy is enough), and give its access key, or name a profile from ~/.aws/config."
    )
    credentials_model = AwsEc2Credentials

    async def test_connection(self, creds: Credentials) -> ConnectionResult:
        return unavailable(self.name)

    async def get_data(self, creds: Credentials) -> IntegrationData:
        return IntegrationData.failed(unavailable(self.name))
