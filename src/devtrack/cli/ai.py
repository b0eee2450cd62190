"""``devtrack ai …``: provider keys, their tests, the Helicone routing, the proxy and its token.

Imported by every ``devtrack`` command: httpx, uvicorn and the proxy are imported inside
the commands that need them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import JSON_OPTION, NoInput, ask, console, emit_json, fail, markup, say, warn

if TYPE_CHECKING:
    from ..ai.providers import AiProviders

app = typer.Typer(help="AI provider keys and the local AI proxy (OpenAI, Anthropic, Gemini).",
                  no_args_is_help=True)

PROVIDER_ARG = typer.Argument(..., help="openai, anthropic or google.")
DEFAULT_PROXY_PORT = 8766


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    from ..ai.specs import UnknownProvider
    from ..credentials import CredentialStoreError

    try:
        yield
    except UnknownProvider as exc:
        fail(str(exc), as_json=as_json, kind="not_found")
    except CredentialStoreError as exc:
        fail(str(exc), as_json=as_json, kind="config")
    except NoInput as exc:
        fail(str(exc), as_json=as_json, kind="config", code=2)
    except ValueError as exc:
        fail(str(exc), as_json=as_json, kind="config")


def _providers() -> AiProviders:
    from ..ai.providers import AiProviders
    from ..integrations.manager import get_manager

    manager = get_manager()
    for w in manager.store.warnings():
        warn(w)
    return AiProviders(manager)


@app.command("providers")
def providers(as_json: bool = JSON_OPTION) -> None:
    """List the AI providers, whether a key is set (masked) and where it comes from."""
    from rich.table import Table

    with _errors(as_json):
        rows = _providers().statuses()
    if as_json:
        emit_json({"ok": True, "providers": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table(box=None, pad_edge=False)
    for col in ("provider", "key", "source", "last test"):
        table.add_column(col)
    for r in rows:
        tested = ((markup("[green]ok[/]") if r.test_result.ok else markup("[red]{}[/]", r.test_result.kind))
                  if r.test_result else markup("[dim]never[/]"))
        table.add_row(r.id, r.masked or markup("[dim]not set[/]"), r.source or "—", tested)
    console.print(table)


@app.command("set")
def set_(
    provider: str = PROVIDER_ARG,
    remove: Annotated[bool, typer.Option("--remove", help="Delete the stored key instead.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Store a provider key, read from a hidden prompt or from stdin (never from the command line)."""
    with _errors(as_json):
        ai = _providers()
        if remove:
            removed = ai.remove_key(provider)
            st = ai.status(provider)
            if as_json:
                emit_json({"ok": True, "removed": removed, "provider": st.model_dump(mode="json")})
                return
            source = (st.source or "").removeprefix("env:")
            still = f"; {source} in the environment still sets one" if source else ""
            if removed:
                say(markup("[green]✓[/] removed the stored {} key{}", st.name, still))
            else:
                say(f"no {st.name} key was stored; nothing changed{still}")
            return
        key = ask(f"{provider} API key", secret=True)
        st = ai.set_key(provider, key)
    if as_json:
        emit_json({"ok": True, "provider": st.model_dump(mode="json")})
    else:
        say(markup("[green]✓[/] saved the {} key {}; check it with: devtrack ai test {}", st.name, st.masked, st.id))


@app.command("test")
def test(
    provider: Annotated[str | None, typer.Argument(help="One provider (default: every configured one).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """List each provider's models with its key: a classified result, like integration tests."""
    from ..ai.specs import PROVIDERS

    with _errors(as_json):
        ai = _providers()
        ids = [provider] if provider else [p.id for p in PROVIDERS if ai.key(p.id)[0]]
        if not ids:
            fail("no AI provider key is set: run devtrack ai set openai (or anthropic, google)",
                 as_json=as_json, kind="config")

        async def run() -> list[Any]:
            return list(await asyncio.gather(*(ai.test(i) for i in ids)))

        results = asyncio.run(run())
    if as_json:
        emit_json({"ok": all(r.ok for r in results),
                   "results": [{"provider": i, **r.model_dump(mode="json")} for i, r in zip(ids, results)]})
    else:
        for i, r in zip(ids, results):
            mark = markup("[green]✓[/]") if r.ok else markup("[red]✗ {}[/]", r.kind)
            say(markup("{} {}: {} [dim]({:.0f} ms)[/]", mark, i, r.message, r.elapsed_ms))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """Where AI traffic through the proxy goes: direct or through Helicone, and with which keys."""
    from ..ai.routing import RoutingError, direct_base, helicone_base, helicone_state
    from ..ai.specs import PROVIDERS
    from ..redact import mask, register

    with _errors(as_json):
        ai = _providers()
        doc = ai.manager.store.read()
        from ..secretrefs import Unresolvable

        try:
            helicone = helicone_state(doc, ai.manager.environ)
        except Unresolvable as exc:
            fail(f"Helicone's API key cannot be read, so the proxy refuses AI traffic: {exc}",
                 as_json=as_json, kind="config")
        routes = []
        for p in PROVIDERS:
            st = ai.status(p.id, doc)
            try:
                target = helicone_base(p, ai.manager.environ) if helicone else direct_base(p, ai.manager.environ)
            except RoutingError as exc:
                target = f"invalid: {exc.message}"
            routes.append({"provider": p.id, "configured": st.configured, "source": st.source,
                           "masked": st.masked, "upstream": target})
        token_set = bool((doc.get("ai_proxy") or {}).get("token"))
    if helicone:
        register([helicone["api_key"]])
    info = {
        "helicone": {"routed": bool(helicone), "masked_key": mask(helicone["api_key"]) if helicone else None,
                     "region": helicone.get("region") if helicone else None,
                     "org_id": helicone.get("org_id") if helicone else None},
        "proxy_token": token_set,
        "providers": routes,
    }
    if as_json:
        emit_json({"ok": True, **info})
        return
    if helicone:
        org = f", organization {helicone['org_id']}" if helicone.get("org_id") else ""
        say(markup("Helicone: [green]routed[/] (key {}, region {}{})", mask(helicone["api_key"]), helicone["region"], org))
    else:
        say(markup("Helicone: [dim]not routed[/] — connect it with: devtrack integrations set helicone api_key=…"))
    say("proxy token: " + ("set (devtrack ai token prints it)" if token_set else "not created yet (devtrack ai token)"))
    for r in routes:
        key = f"{r['masked']} ({r['source']})" if r["configured"] else markup("[yellow]no key[/]")
        say(markup("  {:<10} → {}  key {}", r["provider"], r["upstream"], key))


@app.command("token")
def token(rotate: Annotated[bool, typer.Option("--rotate", help="Replace the token (old clients stop working).")] = False) -> None:
    """Print the local proxy token alone on stdout (created on first use): the API key for clients."""
    from ..ai.proxy_token import ensure_token
    from ..integrations.manager import get_manager

    with _errors(False):
        value = ensure_token(get_manager().store, rotate=rotate)
    sys.stdout.write(value + "\n")
    sys.stdout.flush()


@app.command("proxy")
def proxy(
    host: Annotated[str, typer.Option("--host", help="Loopback address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = DEFAULT_PROXY_PORT,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each request (never keys or prompts).")] = False,
) -> None:
    """Serve the AI proxy alone on loopback: point an OpenAI, Anthropic or Gemini client at it."""
    import logging

    from ..ai.proxy import create_proxy_app
    from ..ai.proxy_token import ensure_token
    from ..web.security import is_loopback
    from ..web.server import bind_socket, make_server, url_of

    if not is_loopback(host):
        fail(f"refusing to listen on {host}: the AI proxy spends your provider credits and only "
             "listens on loopback (127.0.0.1 or ::1)", code=2)
    app_ = create_proxy_app()
    with _errors(False):
        ensure_token(app_.manager.store)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another with --port.")
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        logging.getLogger("devtrack.ai.proxy").setLevel(logging.INFO)
        for name in ("httpx", "httpcore", "aiohttp"):  # they would log upstream URLs with their queries
            logging.getLogger(name).setLevel(logging.WARNING)
    server = make_server(app_, log_level="info" if verbose else "warning")
    url = url_of(sock).rstrip("/")
    say(markup("DevTrack AI proxy at [bold]{}[/]", url))
    say(f"  OpenAI:    base_url={url}/openai/v1")
    say(f"  Anthropic: base_url={url}/anthropic")
    say(f"  Gemini:    base_url={url}/google")
    say("  API key: the output of `devtrack ai token`; press Ctrl+C to stop")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
