"""What is fixed about each AI provider: names, key variables, URLs, where the SDK sends its key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..credentials import Doc


@dataclass(frozen=True)
class ProviderSpec:
    """One AI provider as the CLI, the tests and the proxy see it."""

    id: str
    name: str
    #: Environment fallbacks for the key, first match wins (after the store).
    env_vars: tuple[str, ...]
    keys_url: str
    #: The vendor's API base, overridable by ``base_env`` (the sandbox points it at an emulator).
    default_base: str
    base_env: str
    #: The path prefix that is part of ``default_base`` (OpenAI's ``/v1``): a client of the
    #: proxy includes it, so the proxy removes it before joining the path to the base.
    api_prefix: str
    models_path: str
    #: Helicone's proxy host for this provider, overridable by ``helicone_env``.
    helicone_base: str
    helicone_env: str
    #: Helicone's gateway needs ``Helicone-Target-URL`` (the vendor's base) for this provider.
    needs_target_url: bool
    #: The header the vendor expects the key in (and where the proxy injects it).
    key_header: str


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "openai", "OpenAI", ("OPENAI_API_KEY",), "https://platform.openai.com/api-keys",
        "https://api.openai.com/v1", "DEVTRACK_OPENAI_BASE_URL", "/v1", "/models",
        "https://oai.helicone.ai/v1", "DEVTRACK_HELICONE_OAI_BASE_URL", False, "authorization",
    ),
    ProviderSpec(
        "anthropic", "Anthropic", ("ANTHROPIC_API_KEY",), "https://console.anthropic.com/settings/keys",
        "https://api.anthropic.com", "DEVTRACK_ANTHROPIC_BASE_URL", "", "/v1/models",
        "https://anthropic.helicone.ai", "DEVTRACK_HELICONE_ANTHROPIC_BASE_URL", False, "x-api-key",
    ),
    ProviderSpec(
        "google", "Google (Gemini)", ("GOOGLE_AI_API_KEY", "GEMINI_API_KEY"),
        "https://aistudio.google.com/app/apikey",
        "https://generativelanguage.googleapis.com", "DEVTRACK_GOOGLE_BASE_URL", "", "/v1beta/models",
        "https://gateway.helicone.ai", "DEVTRACK_HELICONE_GATEWAY_BASE_URL", True, "x-goog-api-key",
    ),
)
SPECS: dict[str, ProviderSpec] = {p.id: p for p in PROVIDERS}


class UnknownProvider(KeyError):
    def __str__(self) -> str:
        return f"unknown AI provider {self.args[0]!r}; known: {', '.join(SPECS)}"


def spec(provider_id: str) -> ProviderSpec:
    try:
        return SPECS[provider_id.strip().lower()]
    except KeyError:
        raise UnknownProvider(provider_id) from None


def provider_key(p: ProviderSpec, doc: Doc, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The key in force and where it comes from (``store``, ``env:<VAR>``, or the stored
    reference: ``keyring:…``); the store wins. A stored reference that cannot be resolved
    raises :class:`devtrack.secretrefs.Unresolvable` (its message says what to do)."""
    from .. import secretrefs

    entry = (doc.get("ai_providers") or {}).get(p.id)
    stored = entry.get("api_key") if isinstance(entry, dict) else None
    if stored:
        ref = secretrefs.parse(str(stored))
        if ref is not None:
            return secretrefs.resolve(ref, environ), ref.text
        return secretrefs.literal(str(stored)), "store"
    for var in p.env_vars:
        value = (environ.get(var) or "").strip()
        if value:
            return value, f"env:{var}"
    return None, None


def key_header_value(p: ProviderSpec, key: str) -> str:
    return f"Bearer {key}" if p.key_header == "authorization" else key
