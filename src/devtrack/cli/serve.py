"""``devtrack serve``: the web app on 127.0.0.1, safe by default.

Imported by every ``devtrack`` command, so FastAPI, uvicorn and the sandbox are imported
only inside the command.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .output import fail, markup, say, warn

if TYPE_CHECKING:
    from ..integrations.manager import IntegrationManager

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind. Non-loopback needs an access token.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to bind (0 picks a free one).")] = DEFAULT_PORT,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Run against local emulators of every service.")] = False,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DEVTRACK_ACCESS_TOKEN", show_envvar=True,
        help="Access token every request must carry (default: the one devtrack keeps for you; set it off loopback).",
    )] = None,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", help="Extra Host name to accept, e.g. a LAN name (repeatable).",
    )] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
    no_auth: Annotated[bool, typer.Option(
        "--no-auth", help="Ask for no access token (loopback only; every local account gets in).",
    )] = False,
    print_token: Annotated[bool, typer.Option(
        "--print-token", help="Print the access token alone (created on first use), for scripts, and exit.",
    )] = False,
) -> None:
    """Serve the web app: Settings → Integrations, AI Providers and the JSON API."""
    from . import serve_access

    if print_token:
        serve_access.print_token(token)
        return
    from ..web.security import BindRefused, check_bind, default_allowed_hosts
    from ..web.server import bind_socket, make_server, url_of

    try:
        if not no_auth:  # under --no-auth, resolve() says why a non-loopback bind is refused
            check_bind(host, token)
    except BindRefused as exc:
        fail(str(exc), code=2)
    access = serve_access.resolve(host, token, no_auth)
    with _sandboxed(sandbox) as manager:
        from ..integrations.manager import get_manager
        from ..web import create_app

        manager = manager or get_manager()
        for problem in [*manager.registry.problems, *manager.store.warnings()]:
            warn(problem)
        app = create_app(manager, access_token=access.value if access else None, no_auth=access is None,
                         allowed_hosts=default_allowed_hosts(host) + list(allow_host or []))
        try:
            sock = bind_socket(host, port)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another with --port.")
        server = make_server(app, log_level="info" if verbose else "warning", access_log=verbose)
        url = url_of(sock)
        say(markup("DevTrack is running at [bold]{}[/]", url) + (" (sandbox)" if sandbox else ""))
        serve_access.announce(url, access)
        say("  press Ctrl+C to stop")
        # uvicorn re-raises SIGTERM after its graceful shutdown; make that an exit that runs
        # our clean-up (stopping the sandbox) instead of killing the process on the spot.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            from ..web.views_routes import share_sessions, start_refresh  # issue 8: the refresh coordinator

            if not sandbox:  # a sandbox keeps its snapshots in its own SQLite file
                shared = share_sessions(app)  # a team's instances accept each other's logins
                if shared:
                    warn(shared)
            runtime = start_refresh(app, sandbox=sandbox)
            if runtime.team is not None:
                _announce_instance(runtime)
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            app.state.views.stop()  # the refresh coordinator (issue 8)
            sock.close()


def _announce_instance(runtime: object) -> None:
    """Say (and log) which instance this is: several may share one store (team mode)."""
    import logging

    team = runtime.team  # type: ignore[attr-defined]
    store = runtime.store  # type: ignore[attr-defined]
    line = f"instance {team.instance.name} (id {team.instance.id}), store {store.url}"
    logging.getLogger("devtrack.serve").info(line)
    say(markup("  [dim]{}[/]", line))


class _sandboxed:
    """The manager to serve: the usual one, or one bound to a running sandbox (stopped on exit)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.sandbox: object | None = None
        self.tmp: str | None = None
        self.saved_env: dict[str, str] | None = None

    def __enter__(self) -> IntegrationManager | None:
        if not self.enabled:
            return None
        import os
        import tempfile
        from pathlib import Path

        from ..credentials import CredentialStore
        from ..integrations.manager import IntegrationManager
        from ..redact import safe_str
        from ..sandbox import Sandbox
        from .sandbox import require_extra

        require_extra()
        say("starting the sandbox's emulators…")
        try:
            sb = Sandbox().start()
        except ModuleNotFoundError as exc:  # a package of the extra that the check cannot see
            require_extra(exc.name or str(exc))
        except Exception as exc:
            fail(f"the sandbox did not start: {safe_str(exc)}")
        self.sandbox = sb
        self.tmp = tempfile.mkdtemp(prefix="devtrack-sandbox-")
        path = sb.write_credentials(Path(self.tmp) / "credentials.json")
        # Plugins read their base-URL overrides from the process environment, so the
        # sandbox's go there too (this process serves nothing else); restored on exit.
        self.saved_env = {k: v for k, v in os.environ.items() if k.startswith("DEVTRACK_")}
        for key in self.saved_env:
            del os.environ[key]
        os.environ.update(sb.env())
        return IntegrationManager(store=CredentialStore(path), environ=dict(os.environ))

    def __exit__(self, *exc: object) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()  # type: ignore[attr-defined]
        if self.saved_env is not None:
            import os

            for key in [k for k in os.environ if k.startswith("DEVTRACK_")]:
                del os.environ[key]
            os.environ.update(self.saved_env)
        if self.tmp is not None:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)
            say("sandbox stopped; its credentials were discarded")
