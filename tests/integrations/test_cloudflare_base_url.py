"""A Cloudflare base URL without ``/client/v4`` is named as the problem, not the account id.

Every route of such a base answers 404 (Cloudflare's JSON envelope, or a web page), and the
token fallback used to turn that into "does not belong to account …: check the account id".
Against the sandbox emulator over a real socket, with the base URL a user would mistype.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from devtrack.integrations.contract import DEADLINE, ConnectionResult, IntegrationData, ResultKind
from devtrack.integrations.plugins.cloudflare import CloudflareCredentials, CloudflareIntegration
from devtrack.sandbox import Sandbox
from devtrack.sandbox.cloudflare_emulator import PREFIX, CloudflareEmulator

BASE_KEY = "DEVTRACK_CLOUDFLARE_BASE_URL"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(["cloudflare"], seed=11) as sb:
        yield sb


@pytest.fixture
def emu(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudflareEmulator]:
    """The emulator, its base URL given without ``/client/v4`` (as ``https://api.cloudflare.com`` would be)."""
    emulator = sandbox.emulator("cloudflare")
    assert isinstance(emulator, CloudflareEmulator)
    emulator.reset()
    monkeypatch.setenv(BASE_KEY, emulator.url)
    yield emulator
    emulator.reset()


def _creds(emu: CloudflareEmulator) -> CloudflareCredentials:
    return CloudflareCredentials(api_token=emu.user_token, account_id=emu.account["id"])  # type: ignore[arg-type]


async def _run(call: object) -> ConnectionResult | IntegrationData:
    token = DEADLINE.set(time.monotonic() + 20)
    try:
        async with asyncio.timeout(20):
            return await call  # type: ignore[misc]
    finally:
        DEADLINE.reset(token)


def _says_fix_the_base_url(message: str, emu: CloudflareEmulator) -> None:
    assert "the API base URL looks wrong, it should end in /client/v4" in message
    assert f"Set {BASE_KEY}={emu.url}{PREFIX}, or unset it to use https://api.cloudflare.com/client/v4." in message
    assert "account" not in message.lower() and "token" not in message.lower()


async def test_a_json_404_from_a_base_without_client_v4_blames_the_base_url(emu: CloudflareEmulator) -> None:
    result = await _run(CloudflareIntegration().test_connection(_creds(emu)))
    assert isinstance(result, ConnectionResult)
    assert result.kind == ResultKind.CONFIG and result.details["status"] == 404, result.message
    assert result.message.startswith(f"Cloudflare answered 404 (no such route) at {emu.url}:")
    _says_fix_the_base_url(result.message, emu)
    assert result.details["base_url"] == emu.url


async def test_an_html_404_from_a_base_without_client_v4_blames_the_base_url(emu: CloudflareEmulator) -> None:
    emu.faults.add(html=True, status=404)  # a web server's own "page not found"
    result = await _run(CloudflareIntegration().test_connection(_creds(emu)))
    assert isinstance(result, ConnectionResult)
    assert result.kind == ResultKind.CONFIG, result.message
    assert result.message.startswith(f"Cloudflare answered with a page that is not its API (HTTP 404) at {emu.url}:")
    _says_fix_the_base_url(result.message, emu)


async def test_fetching_data_says_the_same(emu: CloudflareEmulator) -> None:
    data = await _run(CloudflareIntegration().get_data(_creds(emu)))
    assert isinstance(data, IntegrationData) and data.error is not None
    assert data.error.kind == ResultKind.CONFIG and data.health.status == "unconfigured"
    _says_fix_the_base_url(data.error.message, emu)


async def test_with_client_v4_an_unknown_account_is_still_the_account(emu: CloudflareEmulator,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a base URL without ``/client/v4`` is suspected: with it, a 404 is the account's."""
    monkeypatch.setenv(BASE_KEY, emu.url + PREFIX)
    creds = CloudflareCredentials(api_token=emu.account_token, account_id="0123456789abcdef0123456789abcdef")  # type: ignore[arg-type]
    result = await _run(CloudflareIntegration().test_connection(creds))
    assert isinstance(result, ConnectionResult)
    assert "base URL" not in result.message and "account id" in result.message
