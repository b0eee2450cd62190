"""AI providers and the local AI proxy.

- :mod:`.providers`: OpenAI, Anthropic and Google keys (store namespace ``ai_providers``,
  environment fallbacks) and their connection tests;
- :mod:`.sync`: the credential-store hook that mirrors Helicone into ``ai_proxy``;
- :mod:`.routing`: where each provider's traffic goes and which headers it carries (pure);
- :mod:`.proxy`: the ASGI proxy (httpx, streaming), served by ``devtrack ai proxy`` and
  mounted by the web app under ``/ai/``.

Importing this package (or :mod:`.sync`, which the manager does) pulls in nothing heavy.
"""
