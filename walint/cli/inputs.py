"""What a command works on: the configuration and flags resolved into settings, the files
(discovery, or standard input served as one more file) and the project they belong to."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from walint.cache import Cache
from walint.cli.errors import fail
from walint.cli.options import FileSelection
from walint.config import ConfigError, Options, find_config, load_config, parse_codes, parse_helper, resolve_settings
from walint.console import warn
from walint.discovery import Candidate, PathNotFound, discover, is_excluded, read_bytes
from walint.project import naming_bases, project_root
from walint.runner import Project, Reader, serving
from walint.settings import Settings

STDIN_PATH = "-"


@dataclass(frozen=True)
class StdinSource:
    """Source read from standard input (PATH `-`), and the file it stands for."""

    display: str
    data: bytes
    # --force-exclude and an excluded --stdin-filename: check nothing (a fix echoes it back).
    excluded: bool = False


@dataclass(frozen=True)
class Inputs:
    """What a command works on: the settings, the files, and how to read them (standard
    input is one more file, served by ``read``)."""

    settings: Settings
    files: List[Candidate]
    stdin: Optional[StdinSource] = None
    read: Reader = read_bytes
    # The configuration file in use, whose folder is the project root.
    config: Optional[str] = None
    # Its options (for ``jobs`` and ``cache-dir``, which are not settings).
    options: Options = Options()


def resolve_inputs(
    paths: Sequence[str], selection: FileSelection, extend_select: Tuple[str, ...] = (), helper: Optional[str] = None
) -> Inputs:
    """Load the configuration, merge the flags (plus ``extend_select`` and ``helper``), and
    find the files.

    Exits 2 on a configuration error or a missing path.
    """
    if STDIN_PATH in paths and len(paths) > 1:
        fail("`-` (standard input) cannot be combined with other paths")
    reading_stdin = list(paths) == [STDIN_PATH]
    try:
        file_options, config = _file_options(paths, selection, reading_stdin)
        settings = resolve_settings(file_options, _command_line_options(selection, extend_select, helper))
    except ConfigError as error:
        fail(str(error))
    if reading_stdin:
        display = selection.stdin_filename or STDIN_PATH
        excluded = bool(settings.force_exclude and selection.stdin_filename and is_excluded(display, settings.exclude))
        stdin = StdinSource(display, read_stdin(), excluded)
        files = [] if excluded else [Candidate(Path(display), display)]
        return Inputs(settings, files, stdin, serving(display, stdin.data), config, file_options)
    try:
        files = discover(
            paths or ["."], settings.exclude, settings.respect_gitignore, settings.force_exclude, settings.include
        )
    except PathNotFound as missing:
        fail(f"{missing}: no such file or directory")
    warn_when_nothing_to_check(files)
    return Inputs(settings, files, config=config, options=file_options)


def warn_when_nothing_to_check(files: Sequence[Candidate]) -> None:
    """ruff's warning when every path given was excluded or held no Python file, so that a
    clean result over nothing is never mistaken for a clean project."""
    if not files:
        warn("No Python files found under the given path(s)")


def read_stdin() -> bytes:
    """Standard input, at most ``discovery.MAX_READ_BYTES`` of it (``/dev/zero`` never
    ends); more is an error (exit 2), never read whole."""
    from walint import discovery

    limit = discovery.MAX_READ_BYTES
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        fail(f"standard input: too large to read: over the {limit // 2**20} MB limit")
    return data


def _file_options(paths: Sequence[str], selection: FileSelection, reading_stdin: bool) -> Tuple[Options, Optional[str]]:
    """The configuration file's options, and the file (None: defaults only)."""
    if selection.isolated:
        return Options(), None
    if selection.config_file:
        return load_config(Path(selection.config_file)), selection.config_file
    start = (selection.stdin_filename or ".") if reading_stdin else (paths[0] if paths else ".")
    found = find_config(start)
    return (load_config(found), str(found)) if found else (Options(), None)


def find_project(paths: Sequence[str], inputs: Inputs) -> Optional[Project]:
    """The project the files belong to (see :func:`walint.project.project_root`), with
    every Python file in it; None when there is none (the paths given are the project).

    Its files are found as a walk of the root finds them (``.gitignore`` and the pruned
    folders apply) except that ``exclude`` does not: an excluded module still tells the
    files that import it what it does; its own findings are never reported.
    """
    if inputs.stdin is not None:
        start = [inputs.stdin.display] if inputs.stdin.display != STDIN_PATH else []
        if not start:
            return None
    else:
        start = list(paths or ["."])
    root = project_root(start, inputs.config)
    if root is None:
        return None
    try:
        files = discover([root], (), inputs.settings.respect_gitignore)
    except PathNotFound:
        return None
    return Project(root, naming_bases(root), files)


def _command_line_options(selection: FileSelection, extend_select: Tuple[str, ...], helper: Optional[str] = None) -> Options:
    def codes(values: Tuple[str, ...], flag: str) -> Optional[Tuple[str, ...]]:
        return parse_codes(values, flag) if values else None

    extended = (codes(selection.extend_select, "--extend-select") or ()) + extend_select
    return Options(
        select=codes(selection.select, "--select"),
        extend_select=extended or None,
        ignore=codes(selection.ignore, "--ignore"),
        exclude=selection.exclude or None,
        extend_exclude=selection.extend_exclude or None,
        respect_gitignore=selection.respect_gitignore,
        force_exclude=selection.force_exclude,
        include=selection.include or None,
        extend_include=selection.extend_include or None,
        helper=parse_helper(helper, "--helper") if helper is not None else None,
    )


def roots_and_cache(paths: Sequence[str], inputs: Inputs, cache: Optional[Cache]) -> Tuple[List[str], Optional[Cache]]:
    """Nothing is cached for standard input; without a project, its modules are named
    from its own folder."""
    if inputs.stdin is not None:
        return [], None
    return list(paths or ["."]), cache
