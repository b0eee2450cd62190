"""Each item's badge in the views, from the function its plugin judges that item by.

The views never read health from a vendor status string of their own: a Supabase project
whose status says ``ACTIVE_HEALTHY`` while realtime is down, or a paused Cloudflare zone whose
status says ``active``, would otherwise be shown green while the plugin says degraded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..integrations.condition import Condition, Level, deployment_condition, words
from ..integrations.plugins.aws_ec2 import instance_condition
from ..integrations.plugins.cloudflare import zone_condition
from ..integrations.plugins.github import ci_condition
from ..integrations.plugins.sentry import issue_condition
from ..integrations.plugins.supabase import project_condition
from ..integrations.plugins.upstash import database_condition

#: (plugin id, record kind) → the plugin's verdict on one such record.
JUDGES: dict[tuple[str, str], Callable[[Any], Condition]] = {
    ("aws-ec2", "instances"): instance_condition,
    ("upstash", "databases"): database_condition,
    ("supabase", "projects"): project_condition,
    ("cloudflare", "zones"): zone_condition,
    ("cloudflare", "deployments"): deployment_condition,
    ("vercel", "deployments"): deployment_condition,
    ("sentry", "errors"): issue_condition,
    ("github", "ci_runs"): ci_condition,
}
#: Record kind → the verdict for a plugin that names no judge of its own: a typed record's
#: contract fields are enough (every deployment's ``state`` is one of the contract's states).
BY_KIND: dict[str, Callable[[Any], Condition]] = {
    "deployments": deployment_condition,
}
#: A verdict's level → the badge's CSS class (``badge-<name>`` in views.css).
BADGES: dict[Level, str] = {"ok": "ok", "warn": "warn", "bad": "bad", "off": "muted"}


def condition(plugin: str, kind: str, record: Any) -> Condition:
    """The plugin's verdict on ``record``; for a plugin without one (a third-party plugin), the
    kind's own, else "not known" in the record's own status words."""
    judge = JUDGES.get((plugin, kind)) or BY_KIND.get(kind)
    if judge is not None:
        return judge(record)
    return Condition("off", words(getattr(record, "state", None) or getattr(record, "status", None)))


def badge(c: Condition) -> str:
    return BADGES[c.level]
