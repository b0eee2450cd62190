"""The conformance suite: one class a plugin package subclasses in its own pytest.

It checks what every built-in is held to — metadata and credentials rules; ``test_connection``
and ``get_data`` classifying every fault the sandbox's server can inject, each within the
deadline; no secret in results, logs or URLs; results that serialise; records that validate —
and fails with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from ..integrations.contract import ConnectionResult, Integration, IntegrationData, ResultKind
from . import checks
from .harness import Outcome, Served, call_plugin, closed_port, serve

__all__ = ["PluginConformance", "FaultCase", "FAULTS", "CALLS"]

CALLS = ("test_connection", "get_data")
#: Slack on top of the deadline before a call counts as late (the manager answers at the deadline).
GRACE = 1.0


@dataclass(frozen=True)
class FaultCase:
    """One injected fault: its name, the server's fault spec (``None``: nothing listens), the
    kind a plugin must classify it as, and what the fix usually is when it does not."""

    name: str
    spec: dict[str, Any] | None
    expected: ResultKind
    hint: str


def _hint(name: str) -> str:
    return {
        "401": "treat 401 as a bad credential (kind 'auth'); ServiceClient does this for you",
        "403": "treat 403 as a missing permission (kind 'permission')",
        "404": "treat 404 as a wrong id (kind 'not_found'), naming the setting to check",
        "429 + Retry-After, once": "retry after the Retry-After delay (ServiceClient honours it within the deadline)",
        "429 + Retry-After, always": "report a lasting 429 as kind 'rate_limited' instead of retrying past the deadline",
        "500, once": "retry a 5xx on idempotent requests (ServiceClient does) instead of failing at once",
        "500": "report a lasting 5xx as kind 'unavailable'",
        "503": "report a lasting 5xx as kind 'unavailable'",
        "malformed JSON": "catch invalid JSON (ServiceClient.get_json raises HttpError 'invalid_response')",
        "HTML page (200)": "an HTML page is not the API (a login page, a wrong base URL): kind 'invalid_response'",
        "truncated body": "a body cut short is a network failure: kind 'network'",
        "connection reset": "a reset connection is a network failure: kind 'network'",
        "timeout": "give up at the deadline (devtrack.integrations.contract.DEADLINE) with kind 'timeout'",
        "connection refused": "a refused connection is kind 'network', naming the host to check",
    }.get(name, "classify it")


def _faults() -> list[FaultCase]:
    """The fault matrix's cells the kit runs (the slow-body ones stay in the matrix)."""
    from ..sandbox.matrix import FAULTS as MATRIX  # one table of faults and expected kinds for both

    wanted = ("401", "403", "404", "429 + Retry-After, once", "429 + Retry-After, always", "500, once", "500",
              "503", "malformed JSON", "HTML page (200)", "truncated body", "connection reset", "timeout",
              "connection refused")
    table = {name: (spec, kind) for name, spec, kind in MATRIX}
    return [FaultCase(n, table[n][0], table[n][1], _hint(n)) for n in wanted]


FAULTS: list[FaultCase] = _faults()
_BY_NAME = {f.name: f for f in FAULTS}


class PluginConformance:
    """Subclass as ``class TestAcme(PluginConformance)`` and set :attr:`plugin` and :meth:`emulator`.

    ``emulator()`` returns a sandbox :class:`~devtrack.sandbox.emulator.Emulator` (its
    ``credentials(url)`` and ``env(url)`` then point the plugin at it) or any ASGI app (then
    override :meth:`credentials`; the plugin is pointed at it with ``DEVTRACK_<ID>_BASE_URL``,
    which :func:`devtrack.integrations.http.base_url_for` reads). It is served once per class
    by the sandbox's server, which injects each fault before the app sees a request.
    """

    #: The plugin class under test.
    plugin: ClassVar[type[Integration]]
    #: Seconds each call may take (the manager's deadline, shortened so a timeout cell is quick).
    deadline: ClassVar[float] = 3.0
    #: The vendor path prefix included in the base URL, for a plain ASGI emulator.
    base_path: ClassVar[str] = ""
    #: Where the vendor means something else: ``{"503": "rate_limited"}`` (EC2 throttles with
    #: 503), or ``{"get_data:404": "ok"}`` for one call only. Say why beside it.
    expected_kinds: ClassVar[dict[str, str]] = {}
    #: Fault names this plugin cannot meet here, with the reason (shown as the skip reason).
    skip_faults: ClassVar[dict[str, str]] = {}
    #: ``get_data`` must return at least one record on clean data (an emulator seeds some).
    requires_records: ClassVar[bool] = True

    # ------------------------------------------------------------------ what a subclass says

    def emulator(self) -> Any:
        """The emulator: a sandbox ``Emulator`` instance or an ASGI app (not started)."""
        raise NotImplementedError("override emulator() to return your emulator (an Emulator or an ASGI app)")

    def credentials(self, url: str) -> dict[str, str] | None:
        """Working credentials (field key → value) for the emulator at ``url``; ``None``: the
        emulator's own ``credentials(url)[plugin.id]``."""
        return None

    def environment(self, url: str) -> dict[str, str] | None:
        """Environment variables pointing the plugin at ``url``; ``None``: the default."""
        return None

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_served(cls) -> Iterator[Served]:
        """The emulator, started once for the class."""
        me = cls()
        own_creds = cls.credentials is not PluginConformance.credentials
        own_env = cls.environment is not PluginConformance.environment
        served = serve(me.emulator(), cls.plugin.id,
                       credentials=(lambda u: me.credentials(u) or {}) if own_creds else None,
                       environment=(lambda u: me.environment(u) or {}) if own_env else None,
                       base_path=cls.base_path)
        try:
            cls.plugin.credentials_model(**served.credentials)
        except Exception as exc:  # pydantic's ValidationError: said as what to change
            served.stop()
            fields = ", ".join(f.key for f in cls.plugin.credentials_model.fields())
            pytest.fail(f"the emulator's credentials {sorted(served.credentials)} do not fit "
                        f"{cls.plugin.credentials_model.__name__} ({fields}): {str(exc).splitlines()[0]} — return "
                        "the plugin's field keys from credentials(url)", pytrace=False)
        try:
            yield served
        finally:
            served.stop()

    @pytest.fixture
    def conformance(self, conformance_served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
        """The served emulator, reset, with the plugin pointed at it for this test."""
        conformance_served.reset()
        for key, value in conformance_served.environment(conformance_served.url).items():
            monkeypatch.setenv(key, value)
        return conformance_served

    # ------------------------------------------------------------------ helpers

    def _expected(self, call: str, case: FaultCase) -> str:
        return self.expected_kinds.get(f"{call}:{case.name}", self.expected_kinds.get(case.name, str(case.expected)))

    def _run(self, served: Served, call: str) -> tuple[Outcome, list[str]]:
        """One call, with every problem that any call can have (raised, type, leaks, JSON)."""
        out = call_plugin(self.plugin, served.credentials, call, self.deadline)
        secrets = checks.secret_values(self.plugin.credentials_model(**served.credentials))
        problems: list[str] = []
        if out.raised is not None:
            return out, problems
        if (bad := checks.result_type_problem(out.result, call)) and not out.cut_off:
            return out, [bad]
        texts: list[tuple[str, str]] = [("logs", line) for line in out.logs]
        texts += [("URLs", f"{r.method} {r.path}?" + "&".join(f"{k}={v}" for k, v in r.query))
                  for r in served.requests.all()]
        if out.result is not None:
            texts.insert(0, ("result", out.result.model_dump_json()))
            problems += checks.serialise_problems(out.result, call)
        problems += checks.leak_problems(secrets, texts, call)
        return out, problems

    def _masked(self, text: str, served: Served) -> str:
        """``text`` with the credentials' secrets masked: a failure message must not leak either."""
        from ..redact import encoded_forms

        for value in checks.secret_values(self.plugin.credentials_model(**served.credentials)).values():
            for form in sorted(encoded_forms(value), key=len, reverse=True):
                text = text.replace(form, "••••")
        return text

    def _fail(self, problems: list[str], served: Served) -> None:
        if problems:
            pytest.fail("\n".join(self._masked(p, served) for p in problems), pytrace=False)

    # ------------------------------------------------------------------ the checks

    def test_metadata_and_credentials_model(self) -> None:
        problems = checks.metadata_problems(self.plugin)
        if problems:
            pytest.fail(f"{self.plugin.__name__}:\n" + "\n".join(f"- {p}" for p in problems), pytrace=False)

    @pytest.mark.parametrize("call", CALLS)
    def test_clean(self, conformance: Served, call: str) -> None:
        """Against the working emulator both calls succeed, and the data is well formed."""
        out, problems = self._run(conformance, call)
        if out.raised is not None:
            problems.insert(0, f"{call} raised {type(out.raised).__name__}: {out.raised} against the working "
                               "emulator: fix the plugin, and catch failures into results")
        elif out.cut_off:
            problems.insert(0, f"{call} did not finish within its {self.deadline:g}s deadline against the "
                               "working emulator: fewer or concurrent requests, or a larger Integration.deadline")
        elif out.kind != "ok":
            problems.insert(0, f"{call} against the working emulator gave {out.kind}: {out.message} — the "
                               "credentials(url) the kit used must work, and the plugin must succeed with them")
        elif isinstance(out.result, IntegrationData):
            problems += checks.record_problems(out.result)
            if self.requires_records and not any(out.result.records.non_empty().values()):
                problems.append("get_data returned no records against the emulator: fill Records(...) with the "
                                "typed models (seed the emulator with data), or set requires_records = False")
        elif isinstance(out.result, ConnectionResult) and not out.result.message.strip():
            problems.append("test_connection succeeded with an empty message: say who or what it connected to")
        self._fail(problems, conformance)

    @pytest.mark.parametrize("fault", [f.name for f in FAULTS])
    @pytest.mark.parametrize("call", CALLS)
    def test_fault(self, conformance: Served, monkeypatch: pytest.MonkeyPatch, call: str, fault: str) -> None:
        """One injected fault: classified as expected, in time, nothing raised or leaked."""
        if fault in self.skip_faults:
            pytest.skip(self.skip_faults[fault])
        case = _BY_NAME[fault]
        if case.spec is None:
            dead = f"http://127.0.0.1:{closed_port()}"
            for key, value in conformance.environment(dead).items():
                monkeypatch.setenv(key, value)
        out, problems = self._fault_cell(conformance, call, case)
        tries = 1
        # A try during which the host froze the whole machine can run out of its deadline through
        # no fault of the plugin: it is tried again (as the fault matrix does). A failure on a
        # machine that did not freeze is final.
        from ..sandbox.matrix import FROZEN_RERUN, MATRIX_TRIES

        while problems and out.frozen >= FROZEN_RERUN and tries < MATRIX_TRIES:
            out, problems = self._fault_cell(conformance, call, case)
            tries += 1
        self._fail(problems, conformance)

    def _fault_cell(self, conformance: Served, call: str, case: FaultCase) -> tuple[Outcome, list[str]]:
        want = self._expected(call, case)
        fault = case.name
        if case.spec is not None:
            spec = dict(case.spec)
            if fault == "timeout":
                spec["latency"] = self.deadline + 2
            conformance.faults.clear()
            conformance.faults.add(route="/**", **spec)
        try:
            out, problems = self._run(conformance, call)
        finally:
            conformance.faults.clear()
        what = f"HTTP {fault}" if fault[:3].isdigit() else fault
        if out.raised is not None and want == "ok":
            problems.insert(0, f"{call} raised {type(out.raised).__name__} on {what}: {case.hint}, and return "
                               "a result either way, never an exception")
        elif out.raised is not None:
            problems.insert(0, f"{call} raised {type(out.raised).__name__} on {what}: return a classified "
                               f"error result (kind {want!r}) instead — catch devtrack.integrations.http."
                               f"HttpError and return exc.result(){' wrapped in IntegrationData.failed(...)' if call == 'get_data' else ''}")
        elif out.kind != want:
            late = " (it was still running at the deadline)" if out.cut_off else ""
            problems.insert(0, f"{call} classified {what} as {out.kind!r}{late}, expected {want!r}: {case.hint}"
                               + (f". Its message: {out.message[:200]}" if out.message else ""))
        elif out.elapsed - out.frozen > self.deadline + GRACE:
            problems.insert(0, f"{call} took {out.elapsed - out.frozen:.1f}s on {what}, past the "
                               f"{self.deadline:g}s deadline: stop retrying when DEADLINE leaves no time")
        elif want != "ok" and isinstance(out.result, ConnectionResult | IntegrationData) and not out.message.strip():
            problems.insert(0, f"{call} reported {what} with an empty message: say what failed and what to check")
        return out, problems
