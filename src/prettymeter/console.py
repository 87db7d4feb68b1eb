"""Terminal output shared by every verb: progress bars on stderr and the one-screen summary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

T = TypeVar("T")

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def progress_bar() -> Progress:
    """A progress bar on stderr; disabled automatically when stderr is not a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def summary(title: str, rows: Mapping[str, Any]) -> None:
    """Print the one-screen summary that ends every verb (to stdout, so it can be captured)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(str(key), str(value))
    out.print(table)


def run_rows(result: Mapping[str, Any], unit: str) -> dict[str, object]:
    """A resumable verb's last summary rows: what an earlier run had done, speed and time."""
    rows: dict[str, object] = {}
    if result.get("resumed_rows"):
        rows["resumed after"] = f"{result['resumed_rows']} {unit} already done"
    speed = result.get("images_per_s")
    rows["images/s"] = speed if speed is not None else "-"
    if result.get("seconds") is not None:
        rows["time"] = f"{result['seconds']} s"
    return rows
