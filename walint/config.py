"""``[tool.walint]``: find it, check every key, and merge it with the command line.

The configuration lives in the nearest ``pyproject.toml`` above the first path checked
(or in the file ``--config`` names). Every key is checked before anything runs: an unknown
key, a value of the wrong type or an unknown rule code is a :class:`ConfigError` that
names the file and the key, and the command exits 2. Patterns in the file are relative to
the directory that holds it.

The file and the command line are two :class:`Options` layers. A command-line flag
replaces the key of the same name; ``extend-select``, ``extend-exclude``,
``extend-include`` and ``extend-per-file-ignores`` add to what the file says instead.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from walint.codes import ALL_SPECS
from walint.console import warn
from walint.discovery import Unreadable, nearest_folder, read_named, trusted_ancestors, untrusted_reason
from walint.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

PYPROJECT = "pyproject.toml"

Codes = Tuple[str, ...]
PerFileIgnores = Tuple[Tuple[str, Codes], ...]

_HELPER_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
_DOTTED_NAME_RE = re.compile(r"^[A-Za-z_]\w*([.:][A-Za-z_]\w*)*$")


class ConfigError(Exception):
    """A configuration that cannot be used. The message names the file and the key."""


@dataclass(frozen=True)
class Options:
    """One layer of settings, the configuration file's or the command line's.

    ``None`` means the layer does not set that key.
    """

    select: Optional[Codes] = None
    extend_select: Optional[Codes] = None
    ignore: Optional[Codes] = None
    exclude: Optional[Tuple[str, ...]] = None
    extend_exclude: Optional[Tuple[str, ...]] = None
    per_file_ignores: Optional[PerFileIgnores] = None
    respect_gitignore: Optional[bool] = None
    force_exclude: Optional[bool] = None
    guard: Optional[Tuple[str, ...]] = None
    transient_markers: Optional[Tuple[str, ...]] = None
    permanent_markers: Optional[Tuple[str, ...]] = None
    helper: Optional[str] = None
    include: Optional[Tuple[str, ...]] = None
    extend_include: Optional[Tuple[str, ...]] = None
    extend_per_file_ignores: Optional[PerFileIgnores] = None
    # How a run goes rather than what it finds: never part of :class:`Settings` (nor of
    # the cache key). ``cache_dir`` is already anchored at the configuration's folder.
    cache_dir: Optional[str] = None
    jobs: Optional[int] = None


def resolve_settings(file: Options, command_line: Options) -> Settings:
    """The settings of a run: the command line over the configuration file over defaults."""

    def pick(name: str) -> Any:
        given = getattr(command_line, name)
        return given if given is not None else getattr(file, name)

    def added(name: str) -> Tuple[str, ...]:
        return tuple(getattr(file, name) or ()) + tuple(getattr(command_line, name) or ())

    defaults = Settings()
    values = {
        "select": pick("select"),
        "extend_select": added("extend_select"),
        "ignore": pick("ignore") or (),
        # `exclude` replaces the default list (ruff's); `extend-exclude` adds to either.
        "exclude": tuple(pick("exclude") if pick("exclude") is not None else defaults.exclude)
        + added("extend_exclude"),
        # `include` replaces the default (`*.py`, `*.pyi`); `extend-include` adds to either.
        "include": tuple(pick("include") if pick("include") is not None else defaults.include)
        + added("extend_include"),
        "per_file_ignores": tuple(pick("per_file_ignores") or ()) + added("extend_per_file_ignores"),
        "respect_gitignore": pick("respect_gitignore"),
        "force_exclude": pick("force_exclude"),
        "guards": pick("guard") or (),
        "transient_markers": pick("transient_markers") or (),
        "permanent_markers": pick("permanent_markers") or (),
        "helper": pick("helper"),
    }
    return Settings(**{k: (getattr(defaults, k) if v is None else v) for k, v in values.items()})


def resolve_run(file: Options, command_line: Options) -> Tuple[Optional[str], Optional[int]]:
    """``cache-dir`` and ``jobs``: the command line's (or ``WALINT_CACHE_DIR``) over the file's;
    None where neither sets it."""
    cache_dir = command_line.cache_dir if command_line.cache_dir is not None else file.cache_dir
    jobs = command_line.jobs if command_line.jobs is not None else file.jobs
    return cache_dir, jobs


def find_config(start: str) -> Optional[Path]:
    """The nearest ``pyproject.toml`` with a ``[tool.walint]`` table, from ``start`` upward
    as far as trust goes (:func:`walint.discovery.trusted_ancestors`): never past the
    repository root, never from a directory another user could have written."""
    directory = None
    for directory in trusted_ancestors(start):
        path = Path(directory) / PYPROJECT
        if path.is_file() and _walint_table(path, _read_toml(path)) is not None:
            return path
    # Say so when the search stopped short of a configuration someone else could have written.
    beyond = os.path.dirname(directory) if directory else nearest_folder(start)
    if directory is None or not os.path.exists(os.path.join(directory, ".git")):
        reason = untrusted_reason(beyond)
        if reason is not None and os.path.isfile(os.path.join(beyond, PYPROJECT)):
            warn(f"not reading {os.path.join(beyond, PYPROJECT)}: its directory {reason}")
    return None


def load_config(path: Path) -> Options:
    """The ``[tool.walint]`` table of ``path``, checked key by key."""
    table = _walint_table(path, _read_toml(path))
    if table is None:
        raise ConfigError(f"{path}: no [tool.walint] table")
    base = path.resolve().parent
    known = {field.name.replace("_", "-"): field.name for field in fields(Options)}
    values: Dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: [tool.walint] has an unknown key {key!r}{_did_you_mean(key, known)}")
        values[known[key]] = _CHECKS[known[key]](value, _Where(path, key), base)
    return Options(**values)


def parse_codes(values: Iterable[str], where: str) -> Codes:
    """Rule codes or prefixes (``WAL001``, ``WAL00``), each checked against the rule specs."""
    values = tuple(values)
    for value in values:
        # `select = [""]`, `--select ''` or `--ignore WAL001,` would otherwise select (or
        # ignore) nothing for that part, silently; ruff calls it an unknown selector.
        if not value.replace(",", "").strip():
            raise ConfigError(f"{where}: unknown rule selector {value!r} (no rule code in it)")
        if any(not part.strip() for part in value.split(",")):
            raise ConfigError(f"{where}: unknown rule selector {value!r} (an empty code between commas)")
    codes = tuple(code.strip().upper() for value in values for code in value.split(",") if code.strip())
    for code in codes:
        if not any(spec.code.startswith(code) for spec in ALL_SPECS):
            raise ConfigError(f"{where}: unknown rule code {code!r}")
    return codes


def parse_helper(value: str, where: str) -> str:
    """A ``module.path:function`` helper setting given on the command line."""
    if not _HELPER_RE.match(value):
        raise ConfigError(f"{where} must be 'module.path:function', like the default {Settings.helper!r}")
    return value


# ----- reading and checking ------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    path: Path
    key: str

    def __str__(self) -> str:
        return f"{self.path}: [tool.walint] {self.key}"


def _read_toml(path: Path) -> Dict[str, Any]:
    """The parsed file; any way it cannot be read or is not TOML is a :class:`ConfigError`."""
    try:
        data = read_named(path)
    except Unreadable as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({error})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


def _walint_table(path: Path, document: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    tool = document.get("tool", {})
    table = tool.get("walint") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.walint] must be a table")
    return table


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _strings(value: Any, where: _Where) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _anchored(pattern: str, base: Path) -> str:
    """A pattern with a slash is relative to the configuration file's directory."""
    if "/" not in pattern and os.sep not in pattern:
        return pattern
    return os.path.normpath(os.path.join(base, pattern))


def _check_codes(value: Any, where: _Where, base: Path) -> Codes:
    return parse_codes(_strings(value, where), str(where))


def _check_patterns(value: Any, where: _Where, base: Path) -> Tuple[str, ...]:
    return tuple(_anchored(pattern, base) for pattern in _strings(value, where))


def _check_per_file_ignores(value: Any, where: _Where, base: Path) -> PerFileIgnores:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of file patterns to lists of rule codes")
    return tuple(
        (_anchored(pattern, base), _check_codes(codes, _Where(where.path, f"{where.key}.{pattern!r}"), base))
        for pattern, codes in value.items()
    )


def _check_cache_dir(value: Any, where: _Where, base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a directory path (a non-empty string), like '.walint_cache'")
    if "\0" in value:
        raise ConfigError(f"{where} must be a directory path; it holds a NUL character")
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def _check_jobs(value: Any, where: _Where, base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a whole number of processes, 1 or more")
    return value


def _check_bool(value: Any, where: _Where, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def _check_names(value: Any, where: _Where, base: Path) -> Tuple[str, ...]:
    names = _strings(value, where)
    for name in names:
        if not _DOTTED_NAME_RE.match(name):
            raise ConfigError(f"{where}: {name!r} is not a function name (like 'db.probe.read_mode')")
    return names


def _check_markers(value: Any, where: _Where, base: Path) -> Tuple[str, ...]:
    markers = _strings(value, where)
    if any(not marker.strip() for marker in markers):
        raise ConfigError(f"{where}: a marker cannot be empty")
    return markers


def _check_helper(value: Any, where: _Where, base: Path) -> str:
    if not isinstance(value, str) or not _HELPER_RE.match(value):
        raise ConfigError(f"{where} must be 'module.path:function', like the default {Settings.helper!r}")
    return value


_CHECKS: Dict[str, Callable[[Any, _Where, Path], Any]] = {
    "select": _check_codes,
    "extend_select": _check_codes,
    "ignore": _check_codes,
    "exclude": _check_patterns,
    "extend_exclude": _check_patterns,
    "per_file_ignores": _check_per_file_ignores,
    "respect_gitignore": _check_bool,
    "force_exclude": _check_bool,
    "guard": _check_names,
    "transient_markers": _check_markers,
    "permanent_markers": _check_markers,
    "helper": _check_helper,
    "include": _check_patterns,
    "extend_include": _check_patterns,
    "extend_per_file_ignores": _check_per_file_ignores,
    "cache_dir": _check_cache_dir,
    "jobs": _check_jobs,
}
