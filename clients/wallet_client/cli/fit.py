"""Tables that keep every amount and every id whole, at any width and when piped.

A table is described by one or more layouts (lists of columns), widest
first. The first layout that fits the terminal is printed; within a layout,
detail columns (a reason, minor units, a time) give way first, in the order
their `drop` ranks say. Amounts and ids are never wrapped, cut or dropped:
a layout that cannot fit even so is printed wider than the terminal rather
than cut (the terminal wraps whole lines; piped output is not wrapped at all).
A caption names the columns left out, and `--format json` has them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

Row = TypeVar("Row")

# The narrowest a wrapping text column (a reason) is worth showing at.
TEXT_MIN_WIDTH = 10
# Between two columns: one space of padding on each side of a blank rule (no edges).
GAP = 3


@dataclass(frozen=True)
class Column(Generic[Row]):
    """A column: its header, how a row's cell reads (lines separated by newlines), and how it may give way.

    `drop` 0 never gives way (amounts, ids); otherwise higher ranks are dropped
    first. `text` columns (free text) wrap within the room left, at least
    TEXT_MIN_WIDTH, and are dropped when there is not that much.
    """

    header: str
    cell: Callable[[Row], str]
    right: bool = False
    drop: int = 0
    text: bool = False


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _needed(columns: Sequence[Column[Row]], widths: dict[int, int]) -> int:
    total = sum(TEXT_MIN_WIDTH if c.text else widths[id(c)] for c in columns)
    return total + GAP * max(len(columns) - 1, 0)


def _fit(layout: Sequence[Column[Row]], widths: dict[int, int], width: int) -> tuple[list[Column[Row]], int]:
    """The columns of `layout` that fit `width` (dropping by rank) and the width they need at least."""
    kept = list(layout)
    for column in sorted((c for c in layout if c.drop), key=lambda c: -c.drop):
        if _needed(kept, widths) <= width:
            break
        kept.remove(column)
    return kept, _needed(kept, widths)


def fitted_table(
    layouts: Sequence[Sequence[Column[Row]]], rows: Sequence[Row], width: int, title: str
) -> tuple[Table, int]:
    """The table of `rows` in the first layout that fits `width`, and the width to print it at."""
    widths: dict[int, int] = {}
    for layout in layouts:
        for column in layout:
            cells = [column.cell(row) for row in rows]
            widths[id(column)] = max(_width(column.header), *(_width(c) for c in cells), 1)
    chosen: list[Column[Row]] = []
    needed = 0
    for layout in layouts:
        chosen, needed = _fit(layout, widths, width)
        if needed <= width:
            break
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
    for column in chosen:
        if column.text:
            table.add_column(column.header, ratio=1, min_width=TEXT_MIN_WIDTH, overflow="fold")
        else:
            table.add_column(column.header, justify="right" if column.right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(column.cell(row) for column in chosen))
    shown = {line for column in chosen for line in column.header.split("\n")}
    hidden = [c.header for c in layouts[0] if c.header not in shown]
    if hidden:
        table.caption = f"Not shown at this width: {', '.join(hidden)}; --format json has every field."
        table.caption_justify = "left"
    return table, max(width, needed)


def print_fitted(console: Console, layouts: Sequence[Sequence[Column[Row]]], rows: Sequence[Row], title: str) -> None:
    table, width = fitted_table(layouts, rows, console.width, title)
    console.print(table, width=width, crop=False, soft_wrap=False)
