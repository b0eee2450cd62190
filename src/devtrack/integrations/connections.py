"""Connection ids: one configured account of an integration.

The default connection's id is the plugin id (``vercel``), so everything that existed before
connections keeps its id; a named one is ``PLUGIN:NAME`` (``vercel:acme``). NAME is lowercase
letters and digits with single dashes between them, which keeps the environment rule
unambiguous: ``DEVTRACK_<PLUGIN>__<NAME>__<FIELD>``, where a double underscore separates the
three parts and no part can hold one (see :func:`env_key`).

This module imports nothing heavy: the CLI's start-up goes through it.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

#: What a NAME may be: ``acme``, ``eu-prod``, ``team2``; not ``Acme``, ``a--b``, ``-x``.
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAME_MAX = 40
SEP = ":"

#: The connection a plugin call runs for, set by the manager around each call (so code deep
#: in a plugin, such as :func:`devtrack.integrations.http.base_url_for`, can find its
#: connection's environment overrides). ``None``: the default connection.
CONNECTION: ContextVar[str | None] = ContextVar("devtrack_connection", default=None)


class InvalidConnectionId(ValueError):
    """A connection id that does not parse; the message says what a valid one looks like."""


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid connection NAME, in words, or ``None``."""
    if not name:
        return "the name after ':' is empty"
    if len(name) > NAME_MAX:
        return f"the name {name!r} is longer than {NAME_MAX} characters"
    if not NAME_RE.match(name):
        return (f"the name {name!r} may hold only lowercase letters, digits and single dashes "
                "between them (e.g. acme, eu-prod)")
    return None


def parse(cid: str) -> tuple[str, str | None]:
    """``"vercel"`` -> ``("vercel", None)``; ``"vercel:acme"`` -> ``("vercel", "acme")``.

    Raises :class:`InvalidConnectionId` for anything else. Whether the plugin exists is the
    registry's to say, not this function's.
    """
    plugin_id, sep, name = cid.partition(SEP)
    if not plugin_id:
        raise InvalidConnectionId(
            f"invalid connection id {cid!r}: expected PLUGIN or PLUGIN:NAME, e.g. vercel or vercel:acme"
        )
    if not sep:
        return plugin_id, None
    problem = name_problem(name)
    if problem is None and SEP in name:
        problem = "it holds more than one ':'"
    if problem:
        raise InvalidConnectionId(
            f"invalid connection id {cid!r}: {problem}; expected PLUGIN:NAME, e.g. {plugin_id.lower()}:acme"
        )
    return plugin_id, name


def connection_id(plugin_id: str, name: str | None) -> str:
    """The id of a plugin's connection: the plugin id itself for the default one."""
    return plugin_id if name is None else f"{plugin_id}{SEP}{name}"


def label(cid: str, plugin_name: str) -> str:
    """How people see a connection: "Vercel" for the default, "Vercel · acme" for a named one."""
    _, name = parse(cid)
    return plugin_name if name is None else f"{plugin_name} · {name}"


def _env_part(text: str) -> str:
    return text.upper().replace("-", "_")


def env_key(plugin_id: str, name: str | None, field_key: str) -> str:
    """The environment variable that overrides one field of one connection.

    Default connection: ``DEVTRACK_<PLUGIN>_<FIELD>`` (as before connections). Named:
    ``DEVTRACK_<PLUGIN>__<NAME>__<FIELD>``, each part upper-cased with ``-`` as ``_``; since
    NAME has no doubled dash and plugin ids and field keys no doubled separator, splitting at
    ``__`` gives the three parts back: ``DEVTRACK_AWS_EC2__EU_PROD__REGION`` is aws-ec2,
    eu-prod, region.
    """
    if name is None:
        return f"DEVTRACK_{_env_part(plugin_id)}_{_env_part(field_key)}"
    return f"DEVTRACK_{_env_part(plugin_id)}__{_env_part(name)}__{_env_part(field_key)}"
