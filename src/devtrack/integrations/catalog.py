"""What ``devtrack integrations list`` needs to know about the built-in plugins, as plain data.

Listing must not import the plugin modules (each builds a pydantic model and pulls in
pydantic itself, which costs more than the whole start-up budget). This literal repeats each
built-in's metadata and credential fields; ``tests/core/test_catalog.py`` checks that it
agrees exactly with the plugin classes and their credentials models, so the two cannot drift.
A third-party package may point at such metadata of its own under
:data:`META_ENTRY_POINT_GROUP`; without it, listing imports the plugin (see
:mod:`devtrack.cli.fastlist`).
"""

from __future__ import annotations

from typing import Any

#: The entry point group third-party plugin classes register under.
ENTRY_POINT_GROUP = "devtrack.integrations"
#: The optional group where a third-party package points at its plugins' light metadata (a
#: :data:`PluginMeta` of a module that imports nothing heavy), named like the plugin's entry.
META_ENTRY_POINT_GROUP = "devtrack.integrations.meta"

BUILTINS: dict[str, str] = {
    "github": "devtrack.integrations.plugins.github:GitHubIntegration",
    "vercel": "devtrack.integrations.plugins.vercel:VercelIntegration",
    "supabase": "devtrack.integrations.plugins.supabase:SupabaseIntegration",
    "sentry": "devtrack.integrations.plugins.sentry:SentryIntegration",
    "helicone": "devtrack.integrations.plugins.helicone:HeliconeIntegration",
    "upstash": "devtrack.integrations.plugins.upstash:UpstashIntegration",
    "aws-ec2": "devtrack.integrations.plugins.aws_ec2:AwsEc2Integration",
    "cloudflare": "devtrack.integrations.plugins.cloudflare:CloudflareIntegration",
}

#: One plugin: ``id``, ``name``, ``description``, ``docs_url``, ``fields`` (each field as
#: :meth:`CredentialField.model_dump` gives it, ``kind`` as its text) and ``custom_configured``
#: (its credentials model has its own ``missing`` or ``is_configured``): :func:`describe`'s
#: form. A plugin with ``custom_configured`` also carries ``configured``, its rule as data:
#: ``{"needs": [[[field, …], …], …]}`` (every clause has an alternative whose fields all have
#: values) or ``{"call": "module:function"}`` (a light function of the environment).
PluginMeta = dict[str, Any]


def describe(cls: Any) -> PluginMeta:
    """A plugin class's light metadata, read from the class itself: what a catalog entry must
    equal (the tests compare them; a third-party package's tests can do the same)."""
    from .contract import Credentials  # pydantic: for tests, never for listing

    return {
        "id": cls.id,
        "name": cls.name,
        "description": cls.description,
        "docs_url": cls.docs_url,
        "fields": tuple({**f.model_dump(), "kind": str(f.kind)} for f in cls.credentials_model.fields()),
        "custom_configured": any(
            getattr(cls.credentials_model, name) is not getattr(Credentials, name)
            for name in ("missing", "is_configured")
        ),
    }


#: The built-ins' light metadata, in :data:`BUILTINS` order.
BUILTIN_META: dict[str, PluginMeta] = {
    'github': {
        "id": 'github',
        "name": 'GitHub',
        "description": 'Repository status, commits, branches, pull requests, CI runs and issues.',
        "docs_url": 'https://cli.github.com/manual/',
        "fields": (
            {'key': 'token', 'label': 'Personal access token', 'kind': 'token', 'secret': True, 'required': False, 'help': 'Optional. Only needed when the gh CLI is not installed or not logged in.', 'placeholder': 'ghp_… or github_pat_…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
        ),
        "custom_configured": True,
        "configured": {"call": "devtrack.github.env:repository_named"},
    },
    'vercel': {
        "id": 'vercel',
        "name": 'Vercel',
        "description": 'Projects and deployments, with health from the latest production deployment.',
        "docs_url": 'https://vercel.com/docs/rest-api',
        "fields": (
            {'key': 'token', 'label': 'Access token', 'kind': 'token', 'secret': True, 'required': True, 'help': 'Account Settings → Tokens.', 'placeholder': 'vercel_…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'team_id', 'label': 'Team ID', 'kind': 'project_id', 'secret': False, 'required': False, 'help': 'Needed when the projects belong to a team.', 'placeholder': 'team_…', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'project_id', 'label': 'Project ID', 'kind': 'project_id', 'secret': False, 'required': False, 'help': 'Leave blank to follow every project.', 'placeholder': 'prj_…', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
        ),
        "custom_configured": False,
    },
    'supabase': {
        "id": 'supabase',
        "name": 'Supabase',
        "description": 'Projects, their status and per-service health (auth, database, REST, realtime, storage).',
        "docs_url": 'https://supabase.com/docs/reference/api/introduction',
        "fields": (
            {'key': 'access_token', 'label': 'Access token', 'kind': 'token', 'secret': True, 'required': True, 'help': 'A Management API personal access token.', 'placeholder': 'sbp_…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'project_ref', 'label': 'Project ref', 'kind': 'project_id', 'secret': False, 'required': False, 'help': 'Leave blank to follow every project.', 'placeholder': 'abcdefghijklmnopqrst', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
        ),
        "custom_configured": False,
    },
    'sentry': {
        "id": 'sentry',
        "name": 'Sentry',
        "description": 'Unresolved issues of the last 24 hours, with event and user counts.',
        "docs_url": 'https://docs.sentry.io/api/',
        "fields": (
            {'key': 'token', 'label': 'Auth token', 'kind': 'token', 'secret': True, 'required': True, 'help': 'Needs org:read, project:read and event:read.', 'placeholder': 'sntrys_… or sntryu_…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'org', 'label': 'Organization slug', 'kind': 'text', 'secret': False, 'required': True, 'help': 'The part after /organizations/ in your Sentry URL.', 'placeholder': 'my-org', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'project', 'label': 'Project slug', 'kind': 'text', 'secret': False, 'required': False, 'help': 'Leave blank for every project of the organization.', 'placeholder': '', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'base_url', 'label': 'Base URL', 'kind': 'url', 'secret': False, 'required': False, 'help': 'https://de.sentry.io for the EU region, or your self-hosted URL.', 'placeholder': 'https://sentry.io', 'choices': [], 'masked': False, 'destination': True, 'carries': ['token']},
        ),
        "custom_configured": False,
    },
    'helicone': {
        "id": 'helicone',
        "name": 'Helicone',
        "description": 'AI request costs, volumes and latency; its key also routes the AI proxy through Helicone.',
        "docs_url": 'https://docs.helicone.ai/rest/overview',
        "fields": (
            {'key': 'api_key', 'label': 'API key', 'kind': 'token', 'secret': True, 'required': True, 'help': 'A read+write key; pk- keys are write-only.', 'placeholder': 'sk-helicone-…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'region', 'label': 'Region', 'kind': 'choice', 'secret': False, 'required': False, 'help': 'eu for keys created on eu.helicone.ai.', 'placeholder': 'us', 'choices': ['us', 'eu'], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'org_id', 'label': 'Organization ID', 'kind': 'project_id', 'secret': False, 'required': False, 'help': 'Optional; sent with proxied requests.', 'placeholder': '', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
        ),
        "custom_configured": False,
    },
    'upstash': {
        "id": 'upstash',
        "name": 'Upstash',
        "description": 'Redis databases with state, region, requests and storage.',
        "docs_url": 'https://upstash.com/docs/devops/developer-api/introduction',
        "fields": (
            {'key': 'email', 'label': 'Account email', 'kind': 'email', 'secret': False, 'required': False, 'help': 'The email of the Upstash account the Developer API key belongs to.', 'placeholder': 'you@example.com', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'api_key', 'label': 'Developer API key', 'kind': 'token', 'secret': True, 'required': False, 'help': 'Console → Account → Management API; with the email, lists every database.', 'placeholder': '', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'rest_url', 'label': 'Database REST URL', 'kind': 'url', 'secret': False, 'required': False, 'help': "One database's REST URL (its Details page); an alternative to the API key.", 'placeholder': 'https://eu1-example-12345.upstash.io', 'choices': [], 'masked': False, 'destination': True, 'carries': ['rest_token']},
            {'key': 'rest_token', 'label': 'Database REST token', 'kind': 'token', 'secret': True, 'required': False, 'help': "The REST token beside that URL on the database's Details page.", 'placeholder': '', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
        ),
        "custom_configured": True,
        "configured": {"needs": [[["email", "api_key"], ["rest_url", "rest_token"]]]},
    },
    'aws-ec2': {
        "id": 'aws-ec2',
        "name": 'AWS EC2',
        "description": 'EC2 instances with state, type, name, addresses and status checks.',
        "docs_url": 'https://docs.aws.amazon.com/AWSEC2/latest/APIReference/',
        "fields": (
            {'key': 'access_key_id', 'label': 'Access key ID', 'kind': 'text', 'secret': False, 'required': False, 'help': "IAM → Users → Security credentials; blank to use the AWS CLI's own configuration.", 'placeholder': 'AKIA…', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'secret_access_key', 'label': 'Secret access key', 'kind': 'token', 'secret': True, 'required': False, 'help': 'Shown once, when the access key is created.', 'placeholder': '', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'session_token', 'label': 'Session token', 'kind': 'token', 'secret': True, 'required': False, 'help': 'Only for temporary credentials (ASIA… keys).', 'placeholder': '', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'region', 'label': 'Region', 'kind': 'region', 'secret': False, 'required': False, 'help': 'The region to follow; required unless Regions is set.', 'placeholder': 'us-east-1', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'regions', 'label': 'Regions', 'kind': 'text', 'secret': False, 'required': False, 'help': 'Several regions, comma-separated, or all (every region the account has enabled, from ec2:DescribeRegions). When set it wins over Region, which then only says where STS and DescribeRegions are asked (default: the first listed region, or us-east-1).', 'placeholder': 'us-east-1, eu-west-1  or  all', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'profile', 'label': 'Profile', 'kind': 'text', 'secret': False, 'required': False, 'help': 'A named profile from ~/.aws/config, instead of keys.', 'placeholder': '', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'instance_ids', 'label': 'Instance IDs', 'kind': 'text', 'secret': False, 'required': False, 'help': 'Comma-separated; blank for every instance.', 'placeholder': 'i-0123…, i-0456…', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
        ),
        "custom_configured": True,
        "configured": {"needs": [[["region"], ["regions"]], [["profile"], ["access_key_id", "secret_access_key"]]]},
    },
    'cloudflare': {
        "id": 'cloudflare',
        "name": 'Cloudflare',
        "description": 'Zones, Workers scripts and Pages deployments.',
        "docs_url": 'https://developers.cloudflare.com/api/',
        "fields": (
            {'key': 'api_token', 'label': 'API token', 'kind': 'token', 'secret': True, 'required': True, 'help': 'Zone:Read, Workers Scripts:Read and Pages:Read.', 'placeholder': '', 'choices': [], 'masked': True, 'destination': False, 'carries': []},
            {'key': 'account_id', 'label': 'Account ID', 'kind': 'project_id', 'secret': False, 'required': True, 'help': 'Dashboard → any zone → Overview, right-hand column.', 'placeholder': '32 hex characters', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
            {'key': 'zone_id', 'label': 'Zone ID', 'kind': 'project_id', 'secret': False, 'required': False, 'help': 'Blank for every zone.', 'placeholder': '', 'choices': [], 'masked': False, 'destination': False, 'carries': []},
        ),
        "custom_configured": False,
    },
}
