"""Tables that fit the terminal without breaking a value in two.

Rich's default is to fold a cell that does not fit, which splits ids, times and branch names
mid-value ("2026-12-0" / "1 21:17"), at 80 columns and whenever output is piped. Here a value
is never wrapped: free-text columns (titles, subjects) give up space first and end in "…";
if that is not enough, the least useful columns are left out and a note says which.

Cells, headers and titles are plain text (a subject ``fix [/] parsing`` is shown as it is);
only a :class:`~.output.Markup` cell, which the command built itself, is read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .output import Markup, markup, plain

#: Columns of prose: cut with an ellipsis before anything else gives way.
FREE_TEXT = frozenset({"title", "issue", "subject", "services", "labels", "message", "path", "author"})
#: Columns left out first when even cut prose does not fit (lower case, first goes first).
DROP_FIRST = ("public ip", "target", "commit", "upstream", "track", "region", "type", "provider", "users",
              "author", "storage", "tokens", "labels", "health", "plan", "project", "branch", "date")
#: Narrowest a free-text column may become, and widest a value counts for (longer ones are cut).
MIN_FREE = 16
MAX_VALUE = 40


@dataclass
class Fitted:
    table: Table
    hidden: list[str] = field(default_factory=list)

    def print(self, console: Console) -> None:
        console.print(self.table)
        if self.hidden:
            note = "  not shown at this width: " + ", ".join(self.hidden)
            how = "(widen the terminal or use --json)"
            sep = " " if len(note) + 1 + len(how) <= console.width else "\n  "  # never split the advice
            console.print(markup("[dim]{}{}{}[/]", note, sep, how))


def _width(cell: str) -> int:
    """Columns ``cell`` takes as the console prints it (see :class:`~.output.Markup`)."""
    return (Text.from_markup(cell, emoji=False) if isinstance(cell, Markup) else Text(plain(cell))).cell_len


def fit(title: str | None, columns: list[str], rows: list[list[str]], width: int,
        free: frozenset[str] = FREE_TEXT, drop_first: tuple[str, ...] = DROP_FIRST) -> Fitted:
    """A table of ``rows`` (plain text, or :class:`~.output.Markup`) laid out for ``width`` columns."""
    keep = list(range(len(columns)))
    natural = [max([_width(columns[i])] + [_width(r[i]) for r in rows if i < len(r)]) for i in keep]
    is_free = [c.lower() in free for c in columns]

    def overhead(n: int) -> int:  # a border before each column and after the last; a space each side
        return 3 * n + 1

    def plan(cols: list[int]) -> dict[int, int] | None:
        """Widths for ``cols`` within ``width``, or ``None`` if they cannot fit."""
        widths = {i: min(natural[i], max(MAX_VALUE, _width(columns[i]))) for i in cols if not is_free[i]}
        prose = [i for i in cols if is_free[i]]
        room = width - overhead(len(cols)) - sum(widths.values())
        floor = {i: min(natural[i], max(MIN_FREE, _width(columns[i]))) for i in prose}
        if room < sum(floor.values()):
            return None
        # Share the room: narrow columns take what they need, wide ones split the rest evenly.
        pending = sorted(prose, key=lambda i: natural[i])
        while pending:
            share = room // len(pending)
            i = pending.pop(0)
            widths[i] = max(floor[i], min(natural[i], share))
            room -= widths[i]
        return widths

    widths = plan(keep)
    hidden: list[str] = []
    order = [i for name in drop_first for i in keep if columns[i].lower() == name]
    order += [i for i in reversed(keep[1:]) if i not in order]
    while widths is None and len(keep) > 1 and order:
        gone = order.pop(0)
        keep.remove(gone)
        hidden.append(columns[gone])
        widths = plan(keep)
    if widths is None:  # one column wider than the terminal: rich cuts it
        widths = {i: max(1, width - overhead(1)) for i in keep}

    table = Table(title=title, title_justify="left")
    for i in keep:
        table.add_column(columns[i], no_wrap=True, overflow="ellipsis", max_width=widths[i])
    for r in rows:
        table.add_row(*(r[i] if i < len(r) else "" for i in keep))
    hidden.sort(key=columns.index)
    return Fitted(table, hidden)
