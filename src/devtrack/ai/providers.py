"""AI provider keys: stored in the ``ai_providers`` namespace, tested by listing models.

Keys live at ``doc["ai_providers"][provider] = {"api_key": …}`` (the shape the web app
reads); the last test result sits next to it. A stored key wins over the environment
fallbacks (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GOOGLE_AI_API_KEY``/``GEMINI_API_KEY``).
The test uses the shared HTTP layer, so a provider failure is classified exactly like a
plugin's (auth, permission, rate limited, network, timeout, …) and never raises.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .. import redact
from ..credentials import Doc
from ..integrations.contract import DEADLINE, ConnectionResult, ResultKind, utcnow
from .routing import RoutingError, direct_base
from .specs import PROVIDERS, ProviderSpec, key_header_value, provider_key, spec

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager

TEST_DEADLINE = 15.0


class ProviderStatus(BaseModel):
    """One provider as shown: never the key, only its mask and where it comes from."""

    id: str
    name: str
    configured: bool
    source: str | None
    masked: str
    env_vars: list[str]
    keys_url: str
    last_tested: datetime | None = None
    test_result: ConnectionResult | None = None


class AiProviders:
    """Provider keys and tests over one manager's store and environment."""

    def __init__(self, manager: IntegrationManager) -> None:
        self.manager = manager

    def key(self, provider_id: str, doc: Doc | None = None) -> tuple[str | None, str | None]:
        from ..secretrefs import Unresolvable

        doc = doc if doc is not None else self.manager.store.read()
        try:
            key, source = provider_key(spec(provider_id), doc, self.manager.environ)
        except Unresolvable as exc:
            return None, redact.safe_str(exc)  # shown as where the key should come from, and why not
        redact.register([key])
        return key, source

    def status(self, provider_id: str, doc: Doc | None = None) -> ProviderStatus:
        p = spec(provider_id)
        doc = doc if doc is not None else self.manager.store.read()
        key, source = self.key(p.id, doc)
        entry = (doc.get("ai_providers") or {}).get(p.id) or {}
        result = entry.get("test_result") if isinstance(entry, dict) else None
        return ProviderStatus(
            id=p.id, name=p.name, configured=bool(key), source=source, masked=redact.mask(key),
            env_vars=list(p.env_vars), keys_url=p.keys_url,
            last_tested=entry.get("last_tested") if isinstance(entry, dict) else None,
            test_result=ConnectionResult.model_validate(result) if result else None,
        )

    def statuses(self) -> list[ProviderStatus]:
        doc = self.manager.store.read()
        return [self.status(p.id, doc) for p in PROVIDERS]

    def set_key(self, provider_id: str, api_key: str) -> ProviderStatus:
        """Store a key (stripped; a blank one is refused: use :meth:`remove_key`)."""
        p = spec(provider_id)
        api_key = api_key.strip()
        if not api_key:
            raise ValueError(f"the {p.name} key is empty")
        if any(c.isspace() for c in api_key):
            raise ValueError(f"the {p.name} key contains whitespace; paste the key alone")
        redact.register([api_key])

        def change(doc: Doc) -> None:
            doc.setdefault("ai_providers", {})[p.id] = {"api_key": api_key}

        self.manager.store.update(change)
        return self.status(p.id)

    def remove_key(self, provider_id: str) -> bool:
        """Delete the stored key; ``False`` (and nothing written) when no key was stored."""
        p = spec(provider_id)

        def stored(doc: Doc) -> bool:
            entry = (doc.get("ai_providers") or {}).get(p.id)
            return isinstance(entry, dict) and bool(entry.get("api_key"))

        if not stored(self.manager.store.read()):
            return False

        def change(doc: Doc) -> bool:
            was = stored(doc)
            doc.setdefault("ai_providers", {}).pop(p.id, None)
            return was

        return self.manager.store.update(change)

    async def test(self, provider_id: str, record: bool = True) -> ConnectionResult:
        """List the provider's models with the key in force; classified, timed, recorded."""
        p = spec(provider_id)
        started = time.perf_counter()
        key, source = await asyncio.to_thread(self.key, p.id)
        if not key:
            result = ConnectionResult.failure(
                ResultKind.CONFIG,
                f"The {p.name} key cannot be read: {source}" if source else
                f"No {p.name} key: run `devtrack ai set {p.id}` or set {' or '.join(p.env_vars)}.",
            )
        else:
            token = DEADLINE.set(time.monotonic() + TEST_DEADLINE)
            try:
                async with asyncio.timeout(TEST_DEADLINE):
                    result = await _list_models(p, key, self.manager.environ)
            except TimeoutError:
                result = ConnectionResult.failure(ResultKind.TIMEOUT, f"{p.name} did not answer within {TEST_DEADLINE:g}s.")
            finally:
                DEADLINE.reset(token)
        result = result.model_copy(update={
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            "message": redact.redactor(result.message),
        })
        if record:
            await asyncio.to_thread(self._record, p.id, result)
        return result

    def _record(self, provider_id: str, result: ConnectionResult) -> None:
        def change(doc: Doc) -> None:
            entry = doc.setdefault("ai_providers", {}).setdefault(provider_id, {})
            entry["last_tested"] = utcnow().isoformat()
            entry["test_result"] = result.model_dump(mode="json")

        self.manager.store.update(change)


def _classify(resp: Any, body: Any) -> ResultKind | None:
    """Gemini answers a wrong key with 400 ``API_KEY_INVALID``: that is *auth*, not *config*."""
    if resp.status_code == 400 and "API_KEY_INVALID" in str(body):
        return ResultKind.AUTH
    return None


def _count(p: ProviderSpec, body: Any) -> int | None:
    if isinstance(body, dict):
        items = body.get("models" if p.id == "google" else "data")
        if isinstance(items, list):
            return len(items)
    return None


async def _list_models(p: ProviderSpec, key: str, environ: Any) -> ConnectionResult:
    from ..integrations.http import HttpError, ServiceClient

    try:
        base = direct_base(p, environ)
    except RoutingError as exc:
        return ConnectionResult.failure(ResultKind.CONFIG, exc.message)
    headers = {p.key_header: key_header_value(p, key)}
    if p.id == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    try:
        async with ServiceClient(p.id, base, service=p.name, headers=headers, secrets=[key],
                                 classify=_classify, max_retries=2) as client:
            body = await client.get_json(p.models_path, params={"limit": 100} if p.id == "anthropic" else None)
    except HttpError as exc:
        return exc.result()
    count = _count(p, body)
    if count is None:
        return ConnectionResult.failure(ResultKind.INVALID_RESPONSE, f"{p.name} answered without a model list.")
    from ..text import plural

    return ConnectionResult.success(f"Connected to {p.name}: {plural(count, 'model')} available.", models=count)
