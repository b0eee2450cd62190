"""The registry: built-in order, lazy loading, third-party entry points, duplicate ids."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from devtrack.integrations.contract import ConnectionResult, Integration, IntegrationData
from devtrack.integrations.registry import BUILTINS, Registry, RegistryError, UnknownIntegration, default_registry

from ..thirdparty import THIRD_PARTY
from .helpers import run_cli


def test_builtins_in_order_and_lazy() -> None:
    code = textwrap.dedent(
        """
        import sys
        from devtrack.integrations.registry import default_registry
        reg = default_registry()
        print(reg.ids())
        print(any(m.startswith('devtrack.integrations.plugins.') for m in sys.modules))
        reg.get('vercel')
        print('devtrack.integrations.plugins.vercel' in sys.modules, 'devtrack.integrations.plugins.sentry' in sys.modules)
        """
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == str([*BUILTINS, *THIRD_PARTY])
    assert lines[1] == "False"
    assert lines[2] == "True False"


class _Dup(Integration):
    id = "vercel"
    name = "Fake Vercel"
    description = "x"

    async def test_connection(self, creds):  # type: ignore[no-untyped-def]
        return ConnectionResult.success("fake")

    async def get_data(self, creds):  # type: ignore[no-untyped-def]
        return IntegrationData()


def test_duplicate_id_is_refused() -> None:
    reg = default_registry(include_entry_points=False)
    with pytest.raises(RegistryError, match="duplicate integration id 'vercel'"):
        reg.add("vercel", _Dup, origin="package 'evil'")
    assert reg.get("vercel").name == "Vercel"


def test_unknown_id() -> None:
    with pytest.raises(UnknownIntegration, match="unknown integration 'nope'"):
        Registry().get("nope")


def test_mismatched_id_is_refused() -> None:
    reg = Registry()
    reg.add("other", "tests.core.test_registry:_Dup")
    with pytest.raises(RegistryError, match="declares id 'vercel'"):
        reg.get("other")


def _install_fake_package(root: Path, name: str, plugin_id: str) -> None:
    """Lay out a package as pip installs it: the module and a .dist-info with entry points."""
    (root / f"{name}.py").write_text(textwrap.dedent(f"""
        from devtrack.integrations.contract import ConnectionResult, Credentials, FieldKind, Integration, IntegrationData, Health, field
        from pydantic import SecretStr

        class Creds(Credentials):
            api_key: SecretStr | None = field(label="API key", kind=FieldKind.TOKEN)

        class Plugin(Integration):
            id = {plugin_id!r}
            name = "Acme Monitor"
            description = "A third-party plugin."
            docs_url = "https://acme.example/docs"
            credentials_model = Creds

            async def test_connection(self, creds):
                return ConnectionResult.success("acme ok")

            async def get_data(self, creds):
                return IntegrationData(health=Health(status="healthy", detail="acme"))
    """))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[devtrack.integrations]\n{plugin_id} = {name}:Plugin\n")
    (info / "RECORD").write_text("")


def test_third_party_plugin_shows_up_and_works(tmp_path: Path) -> None:
    _install_fake_package(tmp_path, "acme_devtrack", "acme")
    env = {"PYTHONPATH": str(tmp_path)}
    out = run_cli("integrations", "list", "--json", env=env)
    assert out.returncode == 0, out.stderr
    ids = [p["id"] for p in json.loads(out.stdout)]
    assert ids == [*BUILTINS, *sorted([*THIRD_PARTY, "acme"])]  # third-party ones in name order
    assert run_cli("integrations", "set", "acme", "api_key=acme_key_123456789", env=env).returncode == 0
    test = run_cli("integrations", "test", "acme", "--json", env=env)
    assert test.returncode == 0 and json.loads(test.stdout)["message"] == "acme ok"
    data = json.loads(run_cli("integrations", "data", "acme", "--json", env=env).stdout)
    assert data["health"]["status"] == "healthy"


def test_third_party_duplicate_id_refused_with_warning(tmp_path: Path) -> None:
    _install_fake_package(tmp_path, "evil_devtrack", "vercel")
    out = run_cli("integrations", "list", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0
    assert "duplicate integration id 'vercel'" in out.stderr and "evil_devtrack" in out.stderr
    listed = json.loads(out.stdout)
    assert [p["name"] for p in listed if p["id"] == "vercel"] == ["Vercel"]
