"""The plugin kit (devtrack.testing) run on every built-in against its sandbox emulator.

The kit is what a third-party plugin runs; the built-ins are held to the same bar by the same
code, so a check added to the kit applies to all of them at once.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from devtrack.integrations.registry import default_registry
from devtrack.sandbox import registry as emulators
from devtrack.testing import FAULTS, PluginConformance

_REGISTRY = default_registry(include_entry_points=False)


class _BuiltIn(PluginConformance):
    service: ClassVar[str]
    #: The fault matrix's deadline: boto3 over moto needs more than the kit's default 3 s for a
    #: 429 waited out under load, and the built-ins are held to one budget.
    deadline = 5.0

    def emulator(self) -> Any:
        return emulators.factory(self.service)(seed=21)


#: Where a built-in's vendor means something other than the generic expectation, and why.
EXPECTED: dict[str, dict[str, str]] = {
    "aws-ec2": {"503": "rate_limited"},  # EC2 signals throttling (RequestLimitExceeded) with 503
}
SKIPS: dict[str, dict[str, str]] = {}


def _make(plugin_id: str, service: str) -> type[PluginConformance]:
    attrs = {"plugin": _REGISTRY.get(plugin_id), "service": service,
             "expected_kinds": EXPECTED.get(plugin_id, {}), "skip_faults": SKIPS.get(plugin_id, {})}
    return type(f"TestConformance_{plugin_id.replace('-', '_')}", (_BuiltIn,), attrs)


class TestConformance_github(_BuiltIn):
    """GitHub reads a local repository too: a temp one, with ``gh`` logged out (a config dir of
    its own), so the plugin's REST path answers from the emulator."""

    plugin = _REGISTRY.get("github")
    service = "github"
    # The local repository is GitHub's own data: a remote failure degrades the card (health
    # says why) but is not the fetch's error, so every faulted get_data still succeeds (but for a remote that outlasts the deadline).
    expected_kinds = {f"get_data:{f.name}": "ok" for f in FAULTS if f.name != "timeout"}
    _home = tempfile.mkdtemp(prefix="kit-github-")

    def environment(self, url: str) -> dict[str, str]:
        repo = Path(self._home) / "repo"
        if not repo.exists():
            git = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
            subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
            (repo / "README.md").write_text("kit\n")
            subprocess.run([*git, "-C", str(repo), "add", "README.md"], check=True)
            subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "kit commit"], check=True)
            (Path(self._home) / "gh").mkdir()
        emulator_env = emulators.factory("github")(seed=21).env(url)
        return emulator_env | {"DEVTRACK_GITHUB_PATH": str(repo), "GH_CONFIG_DIR": str(Path(self._home) / "gh"),
                               "GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1", "GH_TOKEN": "",
                               "GITHUB_TOKEN": "", "GH_HOST": ""}


for _pid, _service in {"vercel": "vercel", "supabase": "supabase", "sentry": "sentry", "helicone": "helicone",
                       "upstash": "upstash", "aws-ec2": "aws-ec2", "cloudflare": "cloudflare"}.items():
    globals()[f"TestConformance_{_pid.replace('-', '_')}"] = _make(_pid, _service)
