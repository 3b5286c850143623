"""How a run shows itself going: a progress bar for long runs on a terminal, and what
``--verbose`` says was checked and where the time went."""

from __future__ import annotations

import os
import sys
import time
from typing import Optional

import click

from walint.cli.inputs import Inputs
from walint.console import printable
from walint.runner import Observer, Project, RunResult


# A progress bar appears once a run has this many files to go through, or has lasted this long.
PROGRESS_MIN_FILES = 2000
PROGRESS_AFTER_SECONDS = 1.0


class RunObserver(Observer):
    """The command line's :class:`Observer`: a progress bar on a terminal's stderr for long
    runs (never when piped, with ``-q`` or when ``CI`` is set), and the phase timings for
    ``--verbose``."""

    def __init__(self, show_progress: bool) -> None:
        super().__init__()
        self.show_progress = show_progress
        self.started = time.perf_counter()
        self.total = 0
        self.done = 0
        self.bar: Optional[object] = None
        self.project: Optional[Project] = None

    def expect(self, files: int) -> None:
        self.total += files
        if self.bar is not None:
            self.bar.length = self.total  # type: ignore[attr-defined]

    def advance(self, files: int = 1) -> None:
        self.done += files
        if self.bar is None and self.show_progress and (
            self.total >= PROGRESS_MIN_FILES or time.perf_counter() - self.started > PROGRESS_AFTER_SECONDS
        ):
            self.bar = click.progressbar(length=max(self.total, 1), label="Checking", file=sys.stderr, show_pos=True)
            self.bar.__enter__()  # type: ignore[attr-defined]
            self.bar.update(self.done)  # type: ignore[attr-defined]
        elif self.bar is not None:
            self.bar.update(files)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)  # type: ignore[attr-defined]
            self.bar = None


def wants_progress(quiet: bool, verbose: bool = False) -> bool:
    """A progress bar only for a person watching a terminal: not piped, quiet or in CI."""
    return not quiet and not os.environ.get("CI") and sys.stderr.isatty()


def print_verbose(inputs: Inputs, result: RunResult, observer: RunObserver) -> None:
    """What was checked and where the time went, per phase, on stderr."""
    project = observer.project
    if project is not None:
        click.echo(f"walint: project root {printable(project.root)} ({len(project.files)} Python files)", err=True)
    else:
        click.echo("walint: no project root (no configuration file or .git above the paths): the paths are the project", err=True)
    if inputs.config:
        click.echo(f"walint: configuration {printable(inputs.config)}", err=True)
    click.echo(
        f"walint: checked {result.files_checked} files, parsed {result.files_parsed}; "
        f"for context read {result.context_read} more and parsed {result.context_parsed}",
        err=True,
    )
    total = time.perf_counter() - observer.started
    for phase in ("discovery", "prefilter", "analyse", "project", "report"):
        click.echo(f"walint: {phase:<10} {observer.timings.get(phase, 0.0):8.3f} s", err=True)
    click.echo(f"walint: {'total':<10} {total:8.3f} s (since the command started)", err=True)
