#!/usr/bin/env python3
"""Benchmark walint against its peers, side by side in one run, and write RESULTS.md.

Run from a clone of the repository, with walint's dependencies installed in the
interpreter that runs this script::

    python benchmarks/run.py            # full run (several minutes)
    python benchmarks/run.py --quick    # fewer repetitions and a smaller dense corpus
    python benchmarks/run.py --baseline 4c7bfcc   # also time walint as it was at a commit

The script builds its corpora in a temporary directory from the running interpreter's
own files, so every machine benchmarks the same kind of code without downloading any:

* ``stdlib``       the standard library (``sysconfig.get_paths()["stdlib"]``) plus the
                   hazard files of ``benchmarks/planted/``;
* ``stdlib+site``  the same plus the interpreter's site-packages;
* ``dense``        the largest standard-library files, each with one
                   ``journal_mode`` line appended, so that every file is a candidate
                   and the run is bound by parsing, not by the byte prefilter.

Only ``.py``/``.pyi`` files are copied, and directories walint prunes (hidden ones,
``site-packages``, ``build``, ``dist``, virtualenvs, ...) are left out of the copies,
so every tool sees exactly the same files.

Each corpus is timed with the commands alternating across repetitions (the order is
rotated every repetition), and the medians, their ratios and the issue's goals go to
``benchmarks/RESULTS.md`` together with the machine they came from. The walint that is
measured is the one in this checkout (its root is put first on ``PYTHONPATH``). Peers
that are not installed (ruff, semgrep, ripgrep) are reported as such and skipped.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PLANTED_DIR = BENCH_DIR / "planted"
SEMGREP_RULES_DIR = BENCH_DIR / "semgrep"
DEFAULT_OUTPUT = BENCH_DIR / "RESULTS.md"

# Directories walint's discovery prunes (see walint/discovery.py); the copies leave them
# out so that no tool sees a file another one skips.
PRUNED_DIRECTORIES = frozenset(
    {
        "__pycache__",
        "__pypackages__",
        "_build",
        "build",
        "dist",
        "node_modules",
        "site-packages",
        "dist-packages",
        "venv",
        "env",
        "buck-out",
    }
)
PYTHON_SUFFIXES = (".py", ".pyi")
# Appended to every file of the dense corpus: it makes the file a candidate and is no finding.
DENSE_LINE = '\n_BENCHMARK_PRAGMA = "PRAGMA journal_mode=WAL"  # makes this file a walint candidate\n'
# Used when walint's own prefilter tokens cannot be imported.
FALLBACK_TOKENS = (b"journal_mode", b"disable_wal")
EXPECT_RE = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")

FULL = {"repeat": 5, "slow_repeat": 2, "dense_files": 200, "timeout": 900}
QUICK = {"repeat": 3, "slow_repeat": 1, "dense_files": 60, "timeout": 300}

# Seconds after which a command's process group is killed (set from --timeout in main).
# A command that times out is recorded once and not repeated.
COMMAND_TIMEOUT: Optional[float] = None

# Corpus roots inside the work directory; none of them is a name walint or ruff prunes.
STDLIB_DIR, SITE_DIR, HAZARD_DIR, DENSE_DIR = "pylib", "pypackages", "hazards", "dense"

# A bare LibCST parse of every file under the given roots, timed inside the process.
PARSE_SCRIPT = r"""
import json, os, sys, time
import libcst
files = []
for root in sys.argv[1:]:
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        files += [os.path.join(directory, n) for n in sorted(names) if n.endswith((".py", ".pyi"))]
start = time.perf_counter()
errors = 0
for name in files:
    with open(name, "rb") as handle:
        data = handle.read()
    try:
        libcst.parse_module(data)
    except Exception:
        errors += 1
print(json.dumps({"files": len(files), "seconds": time.perf_counter() - start, "errors": errors}))
"""

# The byte-scan floor when ripgrep is not installed: read every file, lower it, find.
FLOOR_SCRIPT = r"""
import os, sys
hits = 0
for root in sys.argv[1:]:
    for directory, dirs, names in os.walk(root):
        for name in names:
            if name.endswith((".py", ".pyi")):
                with open(os.path.join(directory, name), "rb") as handle:
                    hits += handle.read().lower().find(b"journal_mode") >= 0
print(hits)
"""


# ----- tools -------------------------------------------------------------------------


@dataclass
class Tool:
    """A program to benchmark: how to start it, and its version (None: not installed)."""

    name: str
    argv: List[str]
    version: Optional[str]
    env: Optional[Dict[str, str]] = None

    @property
    def installed(self) -> bool:
        return self.version is not None


def _first_line(argv: Sequence[str], env: Optional[Dict[str, str]] = None) -> Optional[str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if lines else ""


def _which(name: str) -> Optional[str]:
    """A program on PATH or next to this interpreter (an unactivated virtualenv)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def find_walint(root: Path = REPO_ROOT, name: str = "walint") -> Tool:
    """walint run from the source tree ``root``, with this interpreter and its libraries."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "walint"]
    version = _first_line(argv + ["--version"], env)
    return Tool(name, argv, version, env)


def baseline_walint(revision: str, work: Path) -> Tool:
    """walint as it was at ``revision`` of this repository, unpacked from ``git archive``
    into ``work``: a peer in the same run, so "no slower than before" is one ratio."""
    target = work / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", revision, "walint"], capture_output=True
    )
    if archive.returncode != 0:
        sys.exit(f"cannot read walint at {revision!r}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]  # no links out of the tree
        safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(target, members=members, **safety)
    return find_walint(target, f"walint at {revision}")


def find_peer(
    name: str, version_args: Sequence[str] = ("--version",), env: Optional[Dict[str, str]] = None
) -> Tool:
    path = _which(name)
    version = _first_line([path, *version_args], env) if path else None
    return Tool(name, [path] if path else [], version)


def walint_check_flags(walint: Tool) -> str:
    out = subprocess.run(walint.argv + ["check", "--help"], capture_output=True, text=True, env=walint.env)
    return out.stdout


def package_version(name: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def prefilter_tokens() -> Tuple[bytes, ...]:
    """The tokens walint's rules declare, to count candidate files; a fallback if walint breaks."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from walint.codes import prefilter_tokens_for
        from walint.settings import Settings

        return prefilter_tokens_for(Settings())
    except Exception:
        return FALLBACK_TOKENS
    finally:
        sys.path.remove(str(REPO_ROOT))


# ----- corpora -----------------------------------------------------------------------


@dataclass
class CorpusStats:
    files: int = 0
    lines: int = 0
    bytes: int = 0
    candidates: int = 0

    def add(self, data: bytes, tokens: Sequence[bytes]) -> None:
        self.files += 1
        self.lines += data.count(b"\n")
        self.bytes += len(data)
        lowered = data.lower()
        self.candidates += any(token in lowered for token in tokens)

    def __add__(self, other: "CorpusStats") -> "CorpusStats":
        return CorpusStats(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> Tuple[int, int, int, int]:
        return (self.files, self.lines, self.bytes, self.candidates)


@dataclass
class Corpus:
    """A set of directories under one root that every command is run on."""

    name: str
    root: Path
    paths: List[str]  # relative to root
    stats: CorpusStats


def _pruned(name: str, full: str) -> bool:
    return (
        name.startswith(".")
        or name in PRUNED_DIRECTORIES
        or name.endswith(".egg-info")
        or os.path.exists(os.path.join(full, "pyvenv.cfg"))
    )


def copy_python_tree(source: Path, target: Path, tokens: Sequence[bytes]) -> CorpusStats:
    """Copy the Python files under ``source``, without symlinked or pruned directories."""
    stats = CorpusStats()
    for directory, dirs, names in os.walk(source):
        dirs[:] = sorted(
            d
            for d in dirs
            if not _pruned(d, os.path.join(directory, d)) and not os.path.islink(os.path.join(directory, d))
        )
        relative = Path(directory).relative_to(source)
        for name in sorted(names):
            if not name.endswith(PYTHON_SUFFIXES):
                continue
            try:
                data = (Path(directory) / name).read_bytes()
            except OSError:
                continue
            destination = target / relative / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
            stats.add(data, tokens)
    return stats


def site_packages_dirs() -> List[Path]:
    import site

    found: List[Path] = []
    candidates = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_dir() and all(path.resolve() != seen.resolve() for seen in found):
            found.append(path)
    return found


def build_dense(stdlib_copy: Path, target: Path, count: int, tokens: Sequence[bytes]) -> CorpusStats:
    """The ``count`` largest standard-library files, each made a candidate by one appended line."""
    files = sorted((p for p in stdlib_copy.rglob("*.py")), key=lambda p: (-p.stat().st_size, str(p)))[:count]
    stats = CorpusStats()
    target.mkdir(parents=True)
    for index, path in enumerate(files):
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            data += b"\n"
        data += DENSE_LINE.encode()
        flat = "_".join(path.relative_to(stdlib_copy).parts)
        (target / f"{index:03d}_{flat}").write_bytes(data)
        stats.add(data, tokens)
    return stats


def build_corpora(work: Path, dense_files: int, tokens: Sequence[bytes]) -> Dict[str, Corpus]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    log(f"copying the standard library from {stdlib}")
    stdlib_stats = copy_python_tree(stdlib, work / STDLIB_DIR, tokens)
    hazard_stats = copy_python_tree(PLANTED_DIR, work / HAZARD_DIR, tokens)
    site_stats = CorpusStats()
    for number, directory in enumerate(site_packages_dirs()):
        log(f"copying site-packages from {directory}")
        site_stats += copy_python_tree(directory, work / SITE_DIR / str(number), tokens)
    log(f"building the dense corpus from the {dense_files} largest standard-library files")
    dense_stats = build_dense(work / STDLIB_DIR, work / DENSE_DIR, dense_files, tokens)
    return {
        "stdlib": Corpus("stdlib", work, [STDLIB_DIR, HAZARD_DIR], stdlib_stats + hazard_stats),
        "stdlib+site": Corpus(
            "stdlib+site", work, [STDLIB_DIR, SITE_DIR, HAZARD_DIR], stdlib_stats + site_stats + hazard_stats
        ),
        "dense": Corpus("dense", work, [DENSE_DIR], dense_stats),
    }


# ----- running and timing ------------------------------------------------------------


@dataclass
class Command:
    """One command line to time; ``before`` is an untimed step before every run."""

    label: str
    argv: List[str]
    cwd: Path
    env: Optional[Dict[str, str]] = None
    slow: bool = False
    before: Optional[Callable[[], None]] = None
    ok_codes: Tuple[int, ...] = (0, 1)


@dataclass
class Run:
    wall: float
    exit_code: int
    max_rss_mb: float
    stdout: str
    stderr: str
    tree_peak_mb: Optional[float] = None
    timed_out: bool = False


@dataclass
class Timing:
    command: Command
    runs: List[Run] = field(default_factory=list)

    @property
    def walls(self) -> List[float]:
        return [run.wall for run in self.runs]

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.walls) if self.runs else None

    @property
    def max_rss_mb(self) -> float:
        return max(run.max_rss_mb for run in self.runs)

    @property
    def failed_codes(self) -> Set[int]:
        return {run.exit_code for run in self.runs if run.exit_code not in self.command.ok_codes}

    @property
    def timed_out(self) -> bool:
        return any(run.timed_out for run in self.runs)


def _proc_tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    tree = {root_pid}
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in tree and pid not in tree}
        tree |= new
        grew = bool(new)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeMemorySampler(threading.Thread):
    """Samples the summed RSS of a process tree every few milliseconds while it runs."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _proc_tree_rss_bytes(self.pid))
            self.done.wait(self.interval)


def _kill_group(process: subprocess.Popen, killed: threading.Event) -> None:
    killed.set()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_once(command: Command, sample_tree: bool = False) -> Run:
    """Run ``command``; wall time from start to exit, max RSS from the child's own rusage.

    The command runs in its own process group, which is killed after ``COMMAND_TIMEOUT``.
    """
    if command.before:
        command.before()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            command.argv, cwd=command.cwd, env=command.env, stdout=out, stderr=err, start_new_session=True
        )
        killed = threading.Event()
        timer = threading.Timer(COMMAND_TIMEOUT, _kill_group, (process, killed)) if COMMAND_TIMEOUT else None
        if timer:
            timer.start()
        sampler = TreeMemorySampler(process.pid) if sample_tree and os.path.isdir("/proc") else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
        if sampler:
            sampler.done.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    # ru_maxrss: the largest single process of the tree; kilobytes on Linux, bytes on macOS.
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    tree_mb = sampler.peak / (1024 * 1024) if sampler else None
    return Run(wall, process.returncode, rss_mb, stdout, stderr, tree_mb, killed.is_set())


def time_alternating(
    commands: Sequence[Command], repeat: int, slow_repeat: int, warm_up: Sequence[Command] = ()
) -> Dict[str, Timing]:
    """Run the untimed ``warm_up`` commands, then every command ``repeat`` times, rotating the order."""
    timings = {command.label: Timing(command) for command in commands}
    for command in warm_up:
        run_once(command)
    for rep in range(repeat):
        shift = rep % len(commands)
        for command in list(commands[shift:]) + list(commands[:shift]):
            timing = timings[command.label]
            if (command.slow and rep >= slow_repeat) or timing.timed_out:
                continue
            result = run_once(command)
            timing.runs.append(result)
            outcome = "TIMED OUT" if result.timed_out else f"exit {result.exit_code}"
            log(f"  rep {rep + 1}/{repeat}  {command.label:<28} {result.wall:8.3f} s  {outcome}")
    return timings


# ----- the commands of each corpus ---------------------------------------------------


@dataclass
class Toolbox:
    walint: Tool
    ruff: Tool
    semgrep: Tool
    rg: Tool
    has_no_cache: bool
    has_jobs: bool
    baseline: Optional[Tool] = None

    def walint_check(self, corpus: Corpus, *extra: str, cache: bool = False) -> List[str]:
        flags = ["--output-format", "json"]
        if self.has_no_cache and not cache:
            flags.append("--no-cache")
        return self.walint.argv + ["check", *flags, *extra, *corpus.paths]

    def baseline_commands(self, corpus: Corpus) -> List[Command]:
        """The baseline walint's default check of ``corpus``, without its cache."""
        if self.baseline is None:
            return []
        argv = self.baseline.argv + ["check", "--output-format", "json", "--no-cache", *corpus.paths]
        return [Command(self.baseline.name, argv, corpus.root, self.baseline.env)]


def peer_commands(tools: Toolbox, corpus: Corpus, parse_all: bool) -> List[Command]:
    """ruff, semgrep, the bare LibCST parse and the byte-scan floor on ``corpus``."""
    commands: List[Command] = []
    if tools.ruff.installed:
        argv = tools.ruff.argv + ["check", "--select", "F401", "--no-cache", "--isolated", *corpus.paths]
        commands.append(Command("ruff F401", argv, corpus.root))
    if tools.semgrep.installed:
        argv = semgrep_scan(tools) + ["--no-git-ignore", "--max-target-bytes=0", *corpus.paths]
        commands.append(Command("semgrep", argv, corpus.root, env=semgrep_env(), slow=True, ok_codes=(0,)))
    if parse_all:
        argv = [sys.executable, "-c", PARSE_SCRIPT, *corpus.paths]
        slow = corpus.stats.files > 500
        commands.append(Command("libcst parse", argv, corpus.root, slow=slow, ok_codes=(0,)))
    commands.append(floor_command(tools, corpus))
    return commands


def floor_command(tools: Toolbox, corpus: Corpus) -> Command:
    if tools.rg.installed:
        return Command("byte floor (rg)", tools.rg.argv + ["-l", "-i", "journal_mode", *corpus.paths], corpus.root)
    argv = [sys.executable, "-c", FLOOR_SCRIPT, *corpus.paths]
    return Command("byte floor (python)", argv, corpus.root, ok_codes=(0,))


def semgrep_scan(tools: Toolbox) -> List[str]:
    """``semgrep scan`` with the rules of ``benchmarks/semgrep/``, JSON out, nothing sent anywhere."""
    rules = ["--config", str(SEMGREP_RULES_DIR)]
    return tools.semgrep.argv + ["scan", *rules, "--json", "--metrics=off", "--disable-version-check", "--quiet"]


def semgrep_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"})
    return env


def clear_cache(*directories: Path) -> Callable[[], None]:
    def clear() -> None:
        for directory in directories:
            shutil.rmtree(directory / ".walint_cache", ignore_errors=True)

    return clear


def dense_commands(tools: Toolbox, corpus: Corpus) -> List[Command]:
    walint = tools.walint
    commands = [Command("walint", tools.walint_check(corpus), corpus.root, walint.env)]
    commands += tools.baseline_commands(corpus)
    commands.append(
        Command("libcst parse", [sys.executable, "-c", PARSE_SCRIPT, *corpus.paths], corpus.root, ok_codes=(0,))
    )
    if tools.has_jobs:
        for jobs in ("1", "2"):
            argv = tools.walint_check(corpus, "--jobs", jobs)
            commands.append(Command(f"walint --jobs {jobs}", argv, corpus.root, walint.env))
    if tools.has_no_cache:
        clear = clear_cache(corpus.root, *(corpus.root / p for p in corpus.paths))
        argv = tools.walint_check(corpus, cache=True)
        # The warm-up pass runs the cold command first, so the warm one always finds a cache.
        commands.append(Command("walint cold cache", argv, corpus.root, walint.env, before=clear))
        commands.append(Command("walint warm cache", argv, corpus.root, walint.env))
    if tools.ruff.installed:
        argv = tools.ruff.argv + ["check", "--select", "F401", "--no-cache", "--isolated", *corpus.paths]
        commands.append(Command("ruff F401", argv, corpus.root))
    commands.append(floor_command(tools, corpus))
    return commands


def corpus_commands(tools: Toolbox, corpus: Corpus, parse_all: bool) -> List[Command]:
    if corpus.name == "dense":
        return dense_commands(tools, corpus)
    walint = Command("walint", tools.walint_check(corpus), corpus.root, tools.walint.env)
    return [walint, *tools.baseline_commands(corpus), *peer_commands(tools, corpus, parse_all)]


def warm_up_commands(tools: Toolbox, corpus: Corpus, commands: Sequence[Command]) -> List[Command]:
    """Read every file once (page cache), compile walint's bytecode, and fill walint's cache."""
    version = Command("walint --version", tools.walint.argv + ["--version"], corpus.root, tools.walint.env)
    cold = [c for c in commands if c.label == "walint cold cache"]
    return [floor_command(tools, corpus), version, *cold]


# ----- recall on the planted files ---------------------------------------------------


def expected_marks(directory: Path) -> Counter:
    """(file name, line, code) for every ``# expect: CODE`` mark under ``directory``."""
    marks: Counter = Counter()
    for path in sorted(directory.glob("*.py")):
        for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = EXPECT_RE.search(line)
            if match:
                for code in match.group("codes").split(","):
                    marks[(path.name, row, code.strip())] += 1
    return marks


@dataclass
class Recall:
    tool: str
    expected: Counter
    found: Counter
    error: Optional[str] = None

    @property
    def hits(self) -> int:
        return sum((self.expected & self.found).values())

    @property
    def ratio(self) -> float:
        return self.hits / max(sum(self.expected.values()), 1)

    @property
    def missed(self) -> List[Tuple[str, int, str]]:
        return sorted((self.expected - self.found).elements())

    @property
    def unexpected(self) -> List[Tuple[str, int, str]]:
        return sorted((self.found - self.expected).elements())


def walint_marks(tools: Toolbox, directory: Path) -> Tuple[Counter, Optional[str]]:
    argv = tools.walint.argv + ["check", "--output-format", "json", "."]
    result = run_once(Command("walint recall", argv, directory, tools.walint.env))
    try:
        findings = json.loads(result.stdout)
    except ValueError:
        return Counter(), f"walint exited {result.exit_code}: {result.stderr.strip()[-300:]}"
    found = Counter((Path(f["filename"]).name, f["location"]["row"], f["code"]) for f in findings)
    problem = result.stderr.strip() or None
    return found, problem


def semgrep_marks(tools: Toolbox, directory: Path) -> Tuple[Counter, Optional[str]]:
    argv = semgrep_scan(tools) + ["."]
    result = run_once(Command("semgrep recall", argv, directory, semgrep_env(), ok_codes=(0,)))
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return Counter(), f"semgrep exited {result.exit_code}: {result.stderr.strip()[-300:]}"
    found = Counter(
        (Path(r["path"]).name, r["start"]["line"], r["check_id"].rsplit(".", 1)[-1]) for r in report["results"]
    )
    errors = "; ".join(e.get("message", "")[:200] for e in report.get("errors", [])) or None
    return found, errors


def measure_recall(tools: Toolbox, hazards: Path) -> List[Recall]:
    expected = expected_marks(hazards)
    found, problem = walint_marks(tools, hazards)
    recalls = [Recall("walint", expected, found, problem)]
    if tools.semgrep.installed:
        found, problem = semgrep_marks(tools, hazards)
        recalls.append(Recall("semgrep", expected, found, problem))
    return recalls


# ----- peak memory and a look inside walint ------------------------------------------


@dataclass
class MemoryProbe:
    corpus: str
    largest_process_mb: float
    tree_peak_mb: Optional[float]
    findings: int
    files_with_findings: List[str]
    timed_out: bool = False


def probe_memory(tools: Toolbox, corpus: Corpus) -> MemoryProbe:
    """One untimed walint run with its process tree's memory sampled, and what it found."""
    run = run_once(
        Command("walint memory", tools.walint_check(corpus), corpus.root, tools.walint.env), sample_tree=True
    )
    try:
        findings = json.loads(run.stdout)
    except ValueError:
        findings = []
    files = sorted({f["filename"] for f in findings})
    return MemoryProbe(corpus.name, run.max_rss_mb, run.tree_peak_mb, len(findings), files, run.timed_out)


_PROFILE_WRAPPERS = re.compile(r"runpy|[/\\]click[/\\]|<string>|__main__\.py|walint[/\\]cli\.py|^~$")


def _short_location(key: Tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    filename = filename.replace(str(REPO_ROOT) + os.sep, "")
    if "site-packages" + os.sep in filename:
        filename = filename.split("site-packages" + os.sep, 1)[1]
    return f"{filename}:{line}({function})"


# walint under cProfile in its own process; SIGALRM stops it after the timeout so that a
# run that never ends still yields the profile of its first seconds.
PROFILE_SCRIPT = r"""
import cProfile, runpy, signal, sys
output, seconds = sys.argv[1], int(sys.argv[2])
sys.argv = ["walint", *sys.argv[3:]]
def stop(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, stop)
signal.alarm(seconds)
profile = cProfile.Profile()
profile.enable()
try:
    runpy.run_module("walint", run_name="__main__", alter_sys=True)
except (SystemExit, KeyboardInterrupt):
    pass
finally:
    profile.disable()
    signal.alarm(0)
    profile.dump_stats(output)
"""


def profile_walint(tools: Toolbox, corpus: Corpus, top: int = 15) -> str:
    """walint under cProfile (one process: ``--jobs 1`` where it exists), top entries by cumulative time.

    Start-up wrappers (runpy, click, the CLI function) are left out: they only repeat the total.
    """
    import pstats

    seconds = int(COMMAND_TIMEOUT or 0)
    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "walint.prof")
        extra = ["--jobs", "1"] if tools.has_jobs else []
        check = tools.walint_check(corpus, *extra)[len(tools.walint.argv) :]
        argv = [sys.executable, "-c", PROFILE_SCRIPT, output, str(seconds), *check]
        start = time.perf_counter()
        subprocess.run(argv, cwd=corpus.root, env=tools.walint.env, capture_output=True)
        wall = time.perf_counter() - start
        if not os.path.exists(output):
            return "(profiling failed)"
        stats = pstats.Stats(output)
    entries = sorted(stats.stats.items(), key=lambda item: -item[1][3])
    stopped = f", stopped by the {seconds} s timeout" if seconds and wall >= seconds else ""
    lines = [
        f"total {stats.total_tt:.2f} s under the profiler{stopped}",
        "",
        f"{'ncalls':>16} {'tottime':>8} {'cumtime':>8}  function",
    ]
    shown = 0
    for key, (primitive, calls, tottime, cumtime, _) in entries:
        location = _short_location(key)
        if _PROFILE_WRAPPERS.search(key[0]) or "builtins.exec" in location or "_lsprof" in location:
            continue
        ncalls = f"{calls}/{primitive}" if calls != primitive else str(calls)
        lines.append(f"{ncalls:>16} {tottime:8.3f} {cumtime:8.3f}  {location}")
        shown += 1
        if shown == top:
            break
    return "\n".join(lines)


# The time walint spends on each candidate file, next to a bare parse of it, in one process.
# It uses walint's internal API, so it may need updating when the engine changes.
CANDIDATE_SCRIPT = r"""
import json, os, sys, time
import libcst
from walint.codes import prefilter_tokens_for
from walint.engine import check_source
from walint.settings import Settings
settings = Settings()
tokens = prefilter_tokens_for(settings)
rows = []
for root in sys.argv[1:]:
    for directory, dirs, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith((".py", ".pyi")):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                data = handle.read()
            if not any(token in data.lower() for token in tokens):
                continue
            start = time.perf_counter()
            try:
                libcst.parse_module(data)
            except Exception:
                pass
            parsed = time.perf_counter()
            result = check_source(path, data, settings)
            rows.append({"path": path, "lines": data.count(b"\n"), "parse": parsed - start,
                         "check": time.perf_counter() - parsed, "findings": len(result.findings),
                         "errors": list(result.errors)})
print(json.dumps(rows))
"""


@dataclass
class CandidateTimes:
    corpus: str
    rows: List[dict]
    error: Optional[str] = None


def time_candidates(tools: Toolbox, corpus: Corpus) -> CandidateTimes:
    """Per candidate file: walint's ``check_source`` against a bare parse of the same bytes."""
    argv = [sys.executable, "-c", CANDIDATE_SCRIPT, *corpus.paths]
    run = run_once(Command("candidate times", argv, corpus.root, tools.walint.env, ok_codes=(0,)))
    if run.timed_out:
        return CandidateTimes(corpus.name, [], f"did not finish within {run.wall:.0f} s")
    try:
        rows = json.loads(run.stdout)
    except ValueError:
        tail = run.stderr.strip().splitlines()[-1:] or [f"exit {run.exit_code}"]
        return CandidateTimes(corpus.name, [], tail[0])
    return CandidateTimes(corpus.name, sorted(rows, key=lambda r: -r["check"]))


# ----- machine -----------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def walint_revision() -> str:
    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
        except OSError:
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", "walint")
    return f"commit {commit}" + (", with uncommitted changes in walint/" if dirty else "")


def machine_lines(tools: Toolbox) -> List[str]:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    libcst = package_version("libcst")

    def version(tool: Tool) -> str:
        return tool.version if tool.installed else "not installed"

    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores, {available} available to this run",
        f"- Memory: {memory_total()}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()}, `{sys.executable}`)",
        f"- walint: {version(tools.walint)} ({walint_revision()})",
        *([f"- baseline: {tools.baseline.name} ({version(tools.baseline)})"] if tools.baseline else []),
        f"- libcst: {libcst or 'not installed'}",
        f"- ruff: {version(tools.ruff)}",
        f"- semgrep: {version(tools.semgrep)}",
        f"- ripgrep: {version(tools.rg)}",
    ]


# ----- goals -------------------------------------------------------------------------


@dataclass
class Goal:
    text: str
    measured: Optional[float]
    target: str
    met: Optional[bool]
    shown: str = ""

    @property
    def status(self) -> str:
        if self.met is None:
            return "not measured" if self.measured is None else "inconclusive"
        return "met" if self.met else "NOT met"


def _timing(results: Dict[str, Dict[str, Timing]], corpus: str, label: str) -> Optional[Timing]:
    timing = results.get(corpus, {}).get(label)
    return timing if timing and timing.runs else None


def _floor_label(results: Dict[str, Dict[str, Timing]], corpus: str) -> str:
    return next((label for label in results.get(corpus, {}) if label.startswith("byte floor")), "byte floor")


def ratio_goal(
    text: str, numerator: Optional[Timing], denominator: Optional[Timing], limit: float, at_most: bool, missing: str
) -> Goal:
    """A goal on the ratio of two medians. A command that timed out makes the ratio a bound,
    which can only settle the goal in one direction."""
    target = f"{'≤' if at_most else '≥'} {limit:g}"
    if numerator is None or denominator is None:
        return Goal(text, None, target, None, missing)
    value = numerator.median / denominator.median  # type: ignore[operator]
    met = value <= limit if at_most else value >= limit
    shown = f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"
    lower = numerator.timed_out and not denominator.timed_out  # the true ratio is higher
    upper = denominator.timed_out and not numerator.timed_out  # the true ratio is lower
    if lower or upper:
        shown = f"{'≥' if lower else '≤'} {shown} (timed out)"
        settled = (met != at_most) if lower else (met == at_most)
        return Goal(text, value, target, met if settled else None, shown)
    if numerator.timed_out and denominator.timed_out:
        return Goal(text, None, target, None, "both timed out")
    return Goal(text, value, target, met, shown)


def _absent(tool: Tool) -> str:
    return f"{tool.name} not installed" if not tool.installed else f"{tool.name} not timed"


def evaluate_goals(
    results: Dict[str, Dict[str, Timing]], recalls: List[Recall], memory: Optional[MemoryProbe], tools: Toolbox
) -> List[Goal]:
    def timing(corpus: str, label: str) -> Optional[Timing]:
        return _timing(results, corpus, label)

    goals: List[Goal] = []
    if tools.baseline is not None:
        goals += [
            # 5%: the spread of one command's medians from run to run on a quiet machine.
            ratio_goal(f"{corpus}: walint / {tools.baseline.name}", timing(corpus, "walint"),
                       timing(corpus, tools.baseline.name), 1.05, True, "baseline not timed")
            for corpus in ("stdlib", "stdlib+site", "dense")
        ]  # fmt: skip
    for corpus in ("stdlib", "stdlib+site"):
        walint, floor = timing(corpus, "walint"), _floor_label(results, corpus)
        goals += [
            ratio_goal(
                f"{corpus}: walint / ruff F401", walint, timing(corpus, "ruff F401"), 0.5, True, _absent(tools.ruff)
            ),
            ratio_goal(f"{corpus}: walint / {floor}", walint, timing(corpus, floor), 10, True, "no floor timed"),
        ]
    goals += [
        ratio_goal(
            "dense: walint / bare libcst parse", timing("dense", "walint"), timing("dense", "libcst parse"), 1.5, True,
            "no parse timed",
        ),
        ratio_goal(
            "dense: speed-up of --jobs 2 over --jobs 1", timing("dense", "walint --jobs 1"),
            timing("dense", "walint --jobs 2"), 1.8, False, "walint has no --jobs yet",
        ),
        ratio_goal(
            "stdlib: semgrep / walint", timing("stdlib", "semgrep"), timing("stdlib", "walint"), 100, False,
            _absent(tools.semgrep),
        ),
        Goal("stdlib: Fixit / walint", None, "≥ 100", None, "Fixit not benchmarked"),
        recall_goal(recalls),
        memory_goal(memory),
        ratio_goal(
            "dense: warm-cache run / cold run", timing("dense", "walint warm cache"),
            timing("dense", "walint cold cache"), 0.2, True, "walint has no cache yet",
        ),
    ]  # fmt: skip
    return goals


def recall_goal(recalls: List[Recall]) -> Goal:
    by_tool = {recall.tool: recall for recall in recalls}
    if "semgrep" not in by_tool:
        return Goal("planted files: walint recall > semgrep recall", None, "", None, "semgrep not installed")
    walint, semgrep = by_tool["walint"].ratio, by_tool["semgrep"].ratio
    return Goal(
        "planted files: walint recall > semgrep recall",
        walint,
        "higher",
        walint > semgrep,
        f"{walint:.0%} vs {semgrep:.0%}",
    )


def memory_goal(memory: Optional[MemoryProbe]) -> Goal:
    if memory is None:
        return Goal("stdlib+site: walint peak memory", None, "≤ 120 MB", None, "not measured")
    peak = max(memory.largest_process_mb, memory.tree_peak_mb or 0)
    if memory.timed_out:  # the peak so far: it can only show the goal missed
        met = False if peak > 120 else None
        return Goal("stdlib+site: walint peak memory", peak, "≤ 120 MB", met, f"≥ {peak:.0f} MB (timed out)")
    return Goal("stdlib+site: walint peak memory", peak, "≤ 120 MB", peak <= 120, f"{peak:.0f} MB")


# ----- the report --------------------------------------------------------------------


def timing_table(timings: Dict[str, Timing]) -> List[str]:
    walint = timings.get("walint")
    base = walint.median if walint and walint.runs else None
    rows = [
        "| command | median s | min s | max s | runs | × walint | max RSS MB | exit |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, timing in timings.items():
        if not timing.runs:
            continue
        median = timing.median or 0.0
        ratio = f"{median / base:.2f}" if base else ""
        codes = ",".join(str(c) for c in sorted({r.exit_code for r in timing.runs if not r.timed_out}))
        if timing.timed_out:
            codes = "killed at timeout"
        elif timing.failed_codes:
            codes += " (failed)"
        shown = f"≥ {median:.1f}" if timing.timed_out else f"{median:.3f}"
        rows.append(
            f"| {label} | {shown} | {min(timing.walls):.3f} | {max(timing.walls):.3f} | {len(timing.runs)} "
            f"| {ratio} | {timing.max_rss_mb:.0f} | {codes} |"
        )
    return rows


def parse_detail(timings: Dict[str, Timing]) -> Optional[str]:
    timing = timings.get("libcst parse")
    if not timing or not timing.runs:
        return None
    try:
        details = [json.loads(run.stdout) for run in timing.runs]
    except ValueError:
        return None
    seconds = statistics.median(d["seconds"] for d in details)
    return (
        f"Bare parse inside its process (no start-up, no imports): median {seconds:.3f} s for "
        f"{details[0]['files']} files, {details[0]['errors']} of which LibCST could not parse."
    )


def render_report(
    args: argparse.Namespace,
    tools: Toolbox,
    corpora: Dict[str, Corpus],
    results: Dict[str, Dict[str, Timing]],
    recalls: List[Recall],
    memory: MemoryProbe,
    candidates: List[CandidateTimes],
    profiles: Dict[str, str],
    goals: List[Goal],
) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# walint benchmark results",
        "",
        f"Written by `{args.command_line}` on {now} ({args.repeat} repetitions, slow commands "
        f"{args.slow_repeat}, dense corpus of {args.dense_files} files). "
        "Rerun the script to refresh this page; do not edit it by hand.",
        "",
        "## Machine",
        "",
        *machine_lines(tools),
        "",
        "## Goals (issues 6 and 12)",
        "",
        "| goal | measured | target | status |",
        "|---|---|---|---|",
        *(f"| {g.text} | {g.shown} | {g.target} | {g.status} |" for g in goals),
        "",
        "## Corpora",
        "",
        "| corpus | files | lines | MB | walint candidates |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {c.name} | {c.stats.files:,} | {c.stats.lines:,} | {c.stats.bytes / 1e6:.1f} | {c.stats.candidates:,} |"
            for c in corpora.values()
        ),
        "",
        "Candidates are files that hold one of the tokens walint's rules declare; only those are parsed.",
        "",
    ]
    for name, timings in results.items():
        out += [f"## Timings: {name}", "", *timing_table(timings), ""]
        detail = parse_detail(timings)
        if detail:
            out += [detail, ""]
        out += failure_lines(timings)
    out += recall_section(recalls)
    out += memory_section(memory)
    for times in candidates:
        out += candidate_section(times)
    for name, text in profiles.items():
        out += [f"## Profile: walint on {name} (cProfile, sorted by cumulative time)", "", "```", text, "```", ""]
    out += method_section(tools)
    return "\n".join(out).rstrip() + "\n"


def recall_section(recalls: List[Recall]) -> List[str]:
    if not recalls:
        return []
    expected = sum(recalls[0].expected.values())
    out = [
        "## Recall on the planted files",
        "",
        f"`benchmarks/planted/` marks {expected} expected findings with `# expect: CODE`; "
        "`safe_patterns.py` holds none, so anything reported there is a false positive.",
        "",
        "| tool | found | recall | unexpected findings |",
        "|---|---:|---:|---:|",
    ]
    out += [f"| {r.tool} | {r.hits}/{expected} | {r.ratio:.0%} | {len(r.unexpected)} |" for r in recalls]
    out.append("")
    for recall in recalls:
        for name, row, code in recall.missed:
            out.append(f"- {recall.tool} missed {code} at `{name}:{row}`")
        for name, row, code in recall.unexpected:
            out.append(f"- {recall.tool} reported {code} at `{name}:{row}`, which is not marked")
        if recall.error:
            out.append(f"- {recall.tool} said: {recall.error}")
    return out + [""]


def failure_lines(timings: Dict[str, Timing]) -> List[str]:
    """What the commands that exited with an unexpected code said on stderr."""
    out = []
    for label, timing in timings.items():
        for run in timing.runs:
            if run.timed_out:
                out.append(f"- `{label}` did not finish within {run.wall:.0f} s and was killed; not repeated")
                break
            if run.exit_code not in timing.command.ok_codes:
                said = " / ".join(run.stderr.strip().splitlines()[:3]) or "(nothing on stderr)"
                out.append(f"- `{label}` exited {run.exit_code}: {said[:400]}")
                break
    return out + [""] if out else []


def memory_section(memory: MemoryProbe) -> List[str]:
    tree = f"{memory.tree_peak_mb:.0f} MB" if memory.tree_peak_mb is not None else "n/a"
    out = [
        f"## walint memory and findings on {memory.corpus}",
        "",
        f"Largest process {memory.largest_process_mb:.0f} MB; whole process tree {tree} (sampled); "
        f"{memory.findings} findings in {len(memory.files_with_findings)} files.",
    ]
    if memory.timed_out:
        out[-1] = (
            f"walint did not finish within the timeout; peak so far: largest process "
            f"{memory.largest_process_mb:.0f} MB, whole process tree {tree}."
        )
    outside = [f for f in memory.files_with_findings if not f.startswith(HAZARD_DIR)]
    if outside:
        out += ["", "Findings outside the planted files (worth a look for false positives):", ""]
        out += [f"- `{name}`" for name in outside]
    return out + [""]


def candidate_section(times: CandidateTimes, top: int = 12) -> List[str]:
    out = [f"## walint per candidate file: {times.corpus} (slowest {top}, one process)", ""]
    if times.error:
        return out + [f"Not available: {times.error}", ""]
    total_check = sum(r["check"] for r in times.rows)
    total_parse = sum(r["parse"] for r in times.rows)
    out += [
        f"{len(times.rows)} candidates: walint's `check_source` {total_check:.2f} s in all, a bare parse of the "
        f"same files {total_parse:.2f} s ({_times(total_check, total_parse)}).",
        "",
        "| file | lines | parse s | check s | check / parse | findings | errors |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in times.rows[:top]:
        errors = "; ".join(row["errors"])[:80]
        out.append(
            f"| `{row['path']}` | {row['lines']:,} | {row['parse']:.3f} | {row['check']:.3f} "
            f"| {_times(row['check'], row['parse'])} | {row['findings']} | {errors} |"
        )
    return out + [""]


def _times(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "n/a"


def method_section(tools: Toolbox) -> List[str]:
    cache = "`--no-cache` is passed" if tools.has_no_cache else "walint has no `--no-cache` flag yet, so none is passed"
    return [
        "## How this was measured",
        "",
        "- Every command is a fresh process; its wall time runs from start to exit, and its max RSS is the "
        "`ru_maxrss` of `os.wait4` (the largest single process of its tree). The walint memory table also "
        "sums the RSS of walint's whole process tree from `/proc`, sampled every 10 ms.",
        "- Per corpus, an untimed warm-up reads every file (the byte floor), compiles walint's bytecode and, "
        "where walint has a cache, fills it; then all commands run in turn for each repetition, the order "
        "rotated every time. Slow commands (semgrep, the bare parse of a whole tree) run only in the first "
        "repetitions.",
        f"- walint: `python -m walint check --output-format json` from this checkout; {cache}. "
        "ruff: `ruff check --select F401 --no-cache --isolated`. semgrep: `semgrep scan` with the rules in "
        "`benchmarks/semgrep/`, `--metrics=off --no-git-ignore --max-target-bytes=0`, and an empty "
        "`.semgrepignore` so that it scans test directories too. Byte floor: `rg -l -i journal_mode`, or a "
        "Python read-lower-find over every file where ripgrep is not installed. Bare parse: "
        "`libcst.parse_module` on every file's bytes in one process.",
        "- Each command's output goes to a temporary file; all tools run with the corpus root as their "
        "working directory and relative paths.",
    ]


# ----- main --------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller dense corpus")
    parser.add_argument("--repeat", type=int, help="repetitions per command (default: 5, --quick: 3)")
    parser.add_argument("--slow-repeat", type=int, help="repetitions of semgrep and whole-tree parses")
    parser.add_argument("--dense-files", type=int, help="files in the dense corpus (default: 200, --quick: 60)")
    parser.add_argument("--timeout", type=float, help="seconds before a command is killed (900, --quick: 300)")
    parser.add_argument("--profile", action="store_true", help="add cProfile tables of walint to the report")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the report")
    parser.add_argument("--keep", action="store_true", help="keep the corpora and print where they are")
    parser.add_argument(
        "--baseline", metavar="REV", help="also time walint at this git revision, to compare before and after"
    )
    args = parser.parse_args(argv)
    args.command_line = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def find_tools() -> Toolbox:
    walint = find_walint()
    if not walint.installed:
        sys.exit(f"cannot run walint from {REPO_ROOT} with {sys.executable}: install its dependencies first")
    flags = walint_check_flags(walint)
    tools = Toolbox(
        walint=walint,
        ruff=find_peer("ruff"),
        # Without these, `semgrep --version` prints the version, then waits on the network.
        semgrep=find_peer("semgrep", ("--version", "--disable-version-check"), semgrep_env()),
        rg=find_peer("rg"),
        has_no_cache="--no-cache" in flags,
        has_jobs="--jobs" in flags,
    )
    for tool in (tools.ruff, tools.semgrep, tools.rg):
        log(f"{tool.name}: {tool.version if tool.installed else 'not installed, skipped'}")
    return tools


def main(argv: Optional[Sequence[str]] = None) -> int:
    global COMMAND_TIMEOUT
    args = parse_args(argv)
    COMMAND_TIMEOUT = args.timeout
    tools = find_tools()
    work = Path(tempfile.mkdtemp(prefix="walint-bench-"))
    try:
        if args.baseline:
            tools.baseline = baseline_walint(args.baseline, work)
            if not tools.baseline.installed:
                sys.exit(f"walint at {args.baseline} does not start with {sys.executable}")
            log(f"baseline: {tools.baseline.name} ({tools.baseline.version})")
        corpora = build_corpora(work, args.dense_files, prefilter_tokens())
        if tools.semgrep.installed:
            (work / ".semgrepignore").write_text("# empty: scan everything, tests included\n")
        results: Dict[str, Dict[str, Timing]] = {}
        for name, corpus in corpora.items():
            log(f"timing {name}: {corpus.stats.files} files")
            commands = corpus_commands(tools, corpus, parse_all=(name != "stdlib+site"))
            warm_up = warm_up_commands(tools, corpus, commands)
            results[name] = time_alternating(commands, args.repeat, args.slow_repeat, warm_up)
        log("measuring recall and memory")
        recalls = measure_recall(tools, work / HAZARD_DIR)
        memory = probe_memory(tools, corpora["stdlib+site"])
        log("timing walint on each candidate file")
        candidates = [time_candidates(tools, corpora["stdlib+site"])]
        profiles = {}
        if args.profile:
            log("profiling walint")
            candidates.append(time_candidates(tools, corpora["dense"]))
            profiles = {name: profile_walint(tools, corpora[name]) for name in ("stdlib", "dense")}
        goals = evaluate_goals(results, recalls, memory, tools)
        report = render_report(args, tools, corpora, results, recalls, memory, candidates, profiles, goals)
        args.output.write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
        for goal in goals:
            log(f"  {goal.status:<12} {goal.text}: {goal.shown} (target {goal.target or '-'})")
    finally:
        if args.keep:
            log(f"corpora kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
