"""AI provider keys as the web app sees them: a small interface and a store-backed default.

Why an interface here: ``devtrack.ai`` (providers, their tests, the Helicone sync and the
proxy) is being built separately. The pages and the JSON API only talk to
:class:`AiProviders`; when ``devtrack.ai`` lands, an adapter to it is passed to
``create_app(ai=...)`` (or replaces :func:`default_ai_providers`) and nothing else changes.

Keys live in the credential store at ``doc["ai_providers"][provider] = {"api_key": ...}``;
an environment variable is the fallback when nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from .. import redact
from ..credentials import Doc
from ..integrations.contract import ConnectionResult, ResultKind, stopwatch, url_problem, utcnow
from ..integrations.manager import IntegrationManager


@dataclass(frozen=True)
class ProviderSpec:
    """What is fixed about one AI provider."""

    id: str
    name: str
    env_vars: tuple[str, ...]
    keys_url: str
    default_base: str
    models_path: str
    placeholder: str


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec("openai", "OpenAI", ("OPENAI_API_KEY",), "https://platform.openai.com/api-keys",
                 "https://api.openai.com/v1", "/models", "sk-…"),
    ProviderSpec("anthropic", "Anthropic", ("ANTHROPIC_API_KEY",), "https://console.anthropic.com/settings/keys",
                 "https://api.anthropic.com", "/v1/models", "sk-ant-…"),
    ProviderSpec("google", "Google (Gemini)", ("GOOGLE_AI_API_KEY", "GEMINI_API_KEY"),
                 "https://aistudio.google.com/app/apikey",
                 "https://generativelanguage.googleapis.com", "/v1beta/models", "AIza…"),
)
SPECS = {p.id: p for p in PROVIDERS}


class UnknownProvider(KeyError):
    def __str__(self) -> str:
        return f"unknown AI provider {self.args[0]!r}; known: {', '.join(SPECS)}"


class AiProviderStatus(BaseModel):
    """One provider as shown: never the key itself, only its mask and where it comes from."""

    id: str
    name: str
    configured: bool
    source: str | None  # "store", "env:<VAR>" or None
    masked: str
    env_vars: list[str]
    keys_url: str
    last_tested: datetime | None = None
    test_result: ConnectionResult | None = None


class HeliconeRouting(BaseModel):
    """Whether AI traffic through DevTrack's proxy is observed by Helicone."""

    routed: bool
    detail: str


class AiProviders(Protocol):
    """What Settings → AI Providers and ``/api/v1/ai`` need; ``devtrack.ai`` will implement it."""

    def statuses(self) -> list[AiProviderStatus]: ...

    def status(self, provider_id: str) -> AiProviderStatus: ...

    def set_key(self, provider_id: str, api_key: str | None) -> AiProviderStatus: ...

    def remove_key(self, provider_id: str) -> None: ...

    async def test(self, provider_id: str) -> ConnectionResult: ...

    def helicone(self) -> HeliconeRouting: ...


class StoreAiProviders:
    """The default: keys in the store's ``ai_providers`` namespace, a models-list test."""

    def __init__(self, manager: IntegrationManager) -> None:
        self.manager = manager
        self._results: dict[str, tuple[datetime, ConnectionResult]] = {}

    @property
    def environ(self) -> Mapping[str, str]:
        return self.manager.environ

    def _spec(self, provider_id: str) -> ProviderSpec:
        try:
            return SPECS[provider_id]
        except KeyError:
            raise UnknownProvider(provider_id) from None

    def _key(self, spec: ProviderSpec, doc: Doc) -> tuple[str | None, str | None]:
        """The key in force and where it comes from (the store wins over the environment)."""
        entry = doc.get("ai_providers", {}).get(spec.id) or {}
        stored = entry.get("api_key") if isinstance(entry, dict) else None
        if stored:
            return str(stored), "store"
        for var in spec.env_vars:
            if self.environ.get(var):
                return self.environ[var], f"env:{var}"
        return None, None

    def _status(self, spec: ProviderSpec, doc: Doc) -> AiProviderStatus:
        key, source = self._key(spec, doc)
        redact.register([key])
        tested = self._results.get(spec.id)
        return AiProviderStatus(
            id=spec.id, name=spec.name, configured=bool(key), source=source,
            masked=redact.mask(key), env_vars=list(spec.env_vars), keys_url=spec.keys_url,
            last_tested=tested[0] if tested else None, test_result=tested[1] if tested else None,
        )

    def statuses(self) -> list[AiProviderStatus]:
        doc = self.manager.store.read()
        return [self._status(s, doc) for s in PROVIDERS]

    def status(self, provider_id: str) -> AiProviderStatus:
        return self._status(self._spec(provider_id), self.manager.store.read())

    def set_key(self, provider_id: str, api_key: str | None) -> AiProviderStatus:
        """Store a key; a blank one keeps the stored key (as credential forms do)."""
        spec = self._spec(provider_id)
        api_key = (api_key or "").strip()
        if api_key:
            redact.register([api_key])

            def change(doc: Doc) -> None:
                entry = doc.setdefault("ai_providers", {}).setdefault(spec.id, {})
                entry["api_key"] = api_key

            self.manager.store.update(change)
            self._results.pop(spec.id, None)
        return self.status(provider_id)

    def remove_key(self, provider_id: str) -> None:
        spec = self._spec(provider_id)

        def change(doc: Doc) -> None:
            doc.setdefault("ai_providers", {}).pop(spec.id, None)

        self.manager.store.update(change)
        self._results.pop(spec.id, None)

    def base_url(self, spec: ProviderSpec) -> str:
        """``DEVTRACK_<PROVIDER>_BASE_URL`` (the sandbox's emulators) or the vendor's API."""
        return (self.environ.get(f"DEVTRACK_{spec.id.upper()}_BASE_URL") or spec.default_base).rstrip("/")

    async def test(self, provider_id: str) -> ConnectionResult:
        spec = self._spec(provider_id)
        key, _ = self._key(spec, self.manager.store.read())
        if not key:
            result = ConnectionResult.failure(
                ResultKind.CONFIG,
                f"No {spec.name} key: paste one here or set {' or '.join(spec.env_vars)}.",
            )
        else:
            redact.register([key])
            with stopwatch() as t:
                result = await _list_models(spec, self.base_url(spec), key)
            result = result.model_copy(update={"elapsed_ms": round(t[0], 1)})
        self._results[spec.id] = (utcnow(), result)
        return result

    def helicone(self) -> HeliconeRouting:
        doc = self.manager.store.read()
        proxy = doc.get("ai_proxy") or {}
        nested = proxy.get("helicone") if isinstance(proxy.get("helicone"), dict) else {}
        if proxy.get("helicone_api_key") or (nested or {}).get("api_key"):
            return HeliconeRouting(routed=True, detail="AI traffic through DevTrack's proxy is logged in Helicone.")
        if "helicone" in self.manager.ids() and self.manager.is_configured("helicone", doc):
            return HeliconeRouting(
                routed=False,
                detail="Helicone is connected, but its key is not synced to the AI proxy yet.",
            )
        return HeliconeRouting(
            routed=False,
            detail="connect Helicone in Settings → Integrations to log AI traffic.",
        )


async def _list_models(spec: ProviderSpec, base: str, key: str) -> ConnectionResult:
    """List the provider's models: the cheapest call that proves the key works."""
    import httpx

    problem = url_problem(base)
    if problem:
        return ConnectionResult.failure(ResultKind.CONFIG, f"{spec.name} base URL {problem}")
    headers = {
        "openai": {"Authorization": f"Bearer {key}"},
        "anthropic": {"x-api-key": key, "anthropic-version": "2023-06-01"},
        "google": {"x-goog-api-key": key},
    }[spec.id]
    try:
        async with httpx.AsyncClient(timeout=15.0, follow_redirects=False) as client:
            resp = await client.get(base + spec.models_path, headers=headers)
    except httpx.TimeoutException:
        return ConnectionResult.failure(ResultKind.TIMEOUT, f"{spec.name} did not answer in time.")
    except httpx.HTTPError as exc:
        return ConnectionResult.failure(
            ResultKind.NETWORK, f"Could not reach {spec.name}: {redact.safe_str(exc)}"
        )
    return _classify(spec, resp.status_code, _count_models(resp))


def _count_models(resp: Any) -> int | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    items = body.get("data", body.get("models"))
    return len(items) if isinstance(items, list) else None


def _classify(spec: ProviderSpec, status: int, models: int | None) -> ConnectionResult:
    if 200 <= status < 300:
        if models is None:
            return ConnectionResult.failure(
                ResultKind.INVALID_RESPONSE, f"{spec.name} answered {status} without a model list."
            )
        return ConnectionResult.success(f"Connected to {spec.name}: {models} models available.", models=models)
    kinds = {
        400: (ResultKind.AUTH, "rejected the key"),  # Gemini answers 400 for a bad key
        401: (ResultKind.AUTH, "rejected the key"),
        403: (ResultKind.PERMISSION, "refused access with this key"),
        404: (ResultKind.NOT_FOUND, "has no models endpoint at this address"),
        429: (ResultKind.RATE_LIMITED, "is rate limiting this key"),
    }
    kind, what = kinds.get(status, (ResultKind.UNAVAILABLE if status >= 500 else ResultKind.ERROR, "failed"))
    return ConnectionResult.failure(kind, f"{spec.name} {what} (HTTP {status}).", status=status)


def default_ai_providers(manager: IntegrationManager) -> AiProviders:
    """The implementation the app uses unless one is passed in (swap point for devtrack.ai)."""
    return StoreAiProviders(manager)

