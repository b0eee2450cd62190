"""One item's health as its plugin judges it: a project, zone, instance, database, deployment,
issue or CI run.

Each plugin has one function per item kind that returns a :class:`Condition`, beside the health
rule it follows. Supabase, Cloudflare (zones), AWS EC2 and Upstash decide their own health
through it: an item of theirs is ``bad`` exactly when it counts against the plugin's health;
GitHub judges its latest CI run with it. Deployments and Sentry issues follow the severity the plugins give their events. The
views badge every item from these functions, so a page can never show green what the plugin
counts as failing, nor red what it counts as fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .contract import Deployment

#: ``ok`` serving as it should; ``bad`` counts against the plugin's health; ``warn`` needs a
#: look or is on its way (starting, building, canceled); ``off`` deliberately not running, or
#: not known.
Level = Literal["ok", "warn", "bad", "off"]


@dataclass(frozen=True)
class Condition:
    level: Level
    #: What a badge says, in the vendor's words where it has them ("paused", "impaired").
    label: str

    def dump(self) -> dict[str, str]:
        return {"level": self.level, "label": self.label}


def words(status: str | None) -> str:
    """A vendor's status constant as words: ``ACTIVE_UNHEALTHY`` → ``active unhealthy``."""
    return (status or "unknown").lower().replace("_", " ")


#: The contract's deployment states (Vercel and Cloudflare Pages map theirs onto these). Both
#: plugins count an ``error`` deploy against their health and report a canceled one as a warning.
_DEPLOYMENT_LEVELS: dict[str, Level] = {
    "ready": "ok", "error": "bad", "building": "warn", "queued": "warn", "canceled": "warn",
    "deleted": "off", "unknown": "off",
}


def deployment_condition(d: Deployment) -> Condition:
    """A deployment's verdict from its contract state (shared by every deployment provider)."""
    return Condition(_DEPLOYMENT_LEVELS.get(d.state, "off"), d.state)
