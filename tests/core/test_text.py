"""The words shared by the CLI and the pages: plurals, humane times, suggestions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from devtrack.text import did_you_mean, humane_time, parse_time, plural
from devtrack.web.render import ago

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)


def test_plural() -> None:
    assert plural(1, "commit") == "1 commit"
    assert plural(0, "commit") == "0 commits"
    assert plural(1204, "branch", "branches") == "1,204 branches"


def test_humane_time_is_relative_within_a_day_then_a_local_date() -> None:
    assert humane_time(NOW - timedelta(seconds=10), now=NOW) == "just now"
    assert humane_time(NOW - timedelta(minutes=5, seconds=20), now=NOW) == "5 min ago"
    assert humane_time(NOW - timedelta(seconds=3599), now=NOW) == "59 min ago"
    assert humane_time(NOW - timedelta(hours=3), now=NOW) == "3 h ago"
    old = NOW - timedelta(days=2)
    assert humane_time(old, now=NOW) == f"{old.astimezone():%Y-%m-%d %H:%M}"
    assert humane_time(None) == "never" and humane_time("", "–") == "–"
    # The forms the views store: ISO with a zone, and "YYYY-MM-DD HH:MM" meaning UTC.
    assert humane_time("2026-12-01T13:55:00+00:00", now=NOW) == "5 min ago"
    assert humane_time("2026-12-01 11:00", now=NOW) == "3 h ago"


def test_parse_time_takes_only_whole_times() -> None:
    assert parse_time("2026-12-01 11:00") == datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)
    assert parse_time("2026-12-01T11:00:00Z") == datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)
    for text in ("2026-12-01", "deployed 2026-12-01 11:00", "main", "2026-13-45 99:99"):
        assert parse_time(text) is None


def test_did_you_mean() -> None:
    ids = ["github", "vercel", "aws-ec2"]
    assert did_you_mean("vercle", ids) == "vercel"
    assert did_you_mean("GitHub", ids) == "github"
    assert did_you_mean("awsec2", ids) == "aws-ec2"
    assert did_you_mean("zzzz", ids) is None


def test_web_ago_says_1_day() -> None:
    assert ago(NOW - timedelta(days=1, hours=2), now=NOW) == "1 day ago"
    assert ago(NOW - timedelta(days=3), now=NOW) == "3 days ago"
