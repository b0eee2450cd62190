"""Sandbox start-up: each emulator (moto and the Helicone proxy hosts aside) started alone, in
seconds (target < 1 s: tests and demos start them often)."""

from __future__ import annotations

from common import median_seconds, report

from devtrack.sandbox import Sandbox, registry

FAST = [s for s in registry.available() if s not in ("aws-ec2", "helicone-proxy")]


def main() -> list[dict]:
    def start(service: str) -> None:
        with Sandbox([service], seed=3):
            pass

    times = {s: median_seconds(lambda s=s: start(s), runs=5) for s in FAST}
    slowest = max(times, key=lambda s: times[s].active)
    return [report("sandbox: slowest emulator start (seconds)", times[slowest], 1.0, 1.0,
                   note=f"{slowest}; " + ", ".join(f"{s} {t.active * 1000:.0f} ms" for s, t in sorted(times.items())))]


if __name__ == "__main__":
    main()
