#!/usr/bin/env python3
"""Ecosystem check: run walint over pinned SQLite-using distributions and compare.

Run it by hand from a clone, with walint's dependencies installed in the interpreter
that runs it (it is not part of the test suite, which stays offline)::

    python ecosystem/run.py                 # install, scan, compare, write RESULTS.md
    python ecosystem/run.py --venv /tmp/eco # reuse (or create) that virtualenv
    python ecosystem/run.py --update        # accept the findings into snapshot.json

What it does:

1. Creates a throwaway virtualenv (in a temporary directory unless ``--venv``) and
   ``pip install``s the pins of ``ecosystem/packages.txt``; a pin marked ``--no-deps``
   is installed without its dependencies. Nothing installed is ever imported or run:
   the venv's interpreter is asked only for its site-packages directory.
2. Reads each pinned distribution's ``*.dist-info/RECORD`` and keeps its ``.py`` and
   ``.pyi`` files, so only those distributions are scanned (not pip, setuptools or
   their dependencies).
3. Runs the walint of this checkout (its root first on ``PYTHONPATH``) once per
   distribution, from site-packages, on exactly those files:
   ``python -m walint check --isolated --no-cache --output-format json --exit-zero ...``.
4. Keys every finding by (distribution, path relative to site-packages, code,
   normalised source line) -- not by line number, so an unrelated edit upstream does
   not move it -- and compares the keys with ``ecosystem/snapshot.json``. New and
   vanished findings are printed and make the exit code 1. ``--update`` rewrites the
   snapshot, keeping the verdicts already written and marking new findings
   ``unreviewed``.
5. Writes ``ecosystem/RESULTS.md``: date, walint commit, packages, files and lines
   scanned, time, findings per rule and every finding with its verdict.

Exit codes: 0 the findings match the snapshot, 1 they differ, 2 an install or walint
error.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

ECO_DIR = Path(__file__).resolve().parent
REPO_ROOT = ECO_DIR.parent
DEFAULT_PACKAGES = ECO_DIR / "packages.txt"
DEFAULT_SNAPSHOT = ECO_DIR / "snapshot.json"
DEFAULT_RESULTS = ECO_DIR / "RESULTS.md"

UNREVIEWED = "unreviewed"
VERDICT_KINDS = ("true positive", "false alarm", "debatable")

# (distribution, path relative to site-packages, code, normalised source line)
Key = Tuple[str, str, str, str]


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    no_deps: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass
class Finding:
    dist: str
    path: str
    code: str
    source: str
    line: int
    message: str

    @property
    def key(self) -> Key:
        return (self.dist, self.path, self.code, self.source)


@dataclass
class DistScan:
    pin: Pin
    files: List[str] = field(default_factory=list)
    lines: int = 0
    seconds: float = 0.0
    findings: List[Finding] = field(default_factory=list)


# --------------------------------------------------------------------------- pins


def parse_packages(text: str) -> List[Pin]:
    """``name==version [--no-deps]`` a line; ``#`` starts a comment."""
    pins: List[Pin] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        req, flags = words[0], words[1:]
        if "==" not in req or any(flag != "--no-deps" for flag in flags):
            raise ValueError(f"packages line {number}: expected 'name==version [--no-deps]', got {raw!r}")
        name, version = req.split("==", 1)
        pins.append(Pin(name.strip(), version.strip(), "--no-deps" in flags))
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- venv


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def install(venv: Path, pins: Sequence[Pin]) -> None:
    python = venv_python(venv)
    if not python.exists():
        print(f"creating virtualenv {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    groups = [
        ([p.requirement for p in pins if not p.no_deps], []),
        ([p.requirement for p in pins if p.no_deps], ["--no-deps"]),
    ]
    for requirements, flags in groups:
        if not requirements:
            continue
        argv = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *flags, *requirements]
        print(f"pip install {' '.join(flags + requirements)}", file=sys.stderr)
        subprocess.run(argv, check=True)


def site_packages(venv: Path) -> List[Path]:
    """The venv's purelib and platlib, asked of its own interpreter (no import of what is installed)."""
    code = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
    out = subprocess.run([str(venv_python(venv)), "-I", "-c", code], check=True, capture_output=True, text=True)
    dirs: List[Path] = []
    for entry in json.loads(out.stdout):
        path = Path(entry)
        if path.is_dir() and path not in dirs:
            dirs.append(path)
    return dirs


def read_metadata_field(metadata: str, name: str) -> Optional[str]:
    for line in metadata.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def find_dist_info(site_dirs: Sequence[Path], pin: Pin) -> Tuple[Path, Path]:
    """(site-packages dir, dist-info dir) of the distribution ``pin`` names."""
    for site in site_dirs:
        for info in sorted(site.glob("*.dist-info")):
            metadata_file = info / "METADATA"
            if not metadata_file.is_file():
                continue
            metadata = metadata_file.read_text(encoding="utf-8", errors="replace")
            name = read_metadata_field(metadata, "Name") or ""
            if canonical(name) != canonical(pin.name):
                continue
            version = read_metadata_field(metadata, "Version")
            if version != pin.version:
                raise SystemExit(f"error: {pin.name} {version} is installed, {pin.version} is pinned")
            return site, info
    raise SystemExit(f"error: {pin.requirement} is not installed in the virtualenv")


def record_files(site: Path, info: Path) -> List[str]:
    """The distribution's .py/.pyi files from its RECORD, relative to ``site``, sorted."""
    files = set()
    with open(info / "RECORD", newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            rel = row[0].replace("\\", "/")
            if rel.startswith(("/", "../")) or "__pycache__" in rel.split("/"):
                continue
            if rel.endswith((".py", ".pyi")) and (site / rel).is_file():
                files.add(rel)
    return sorted(files)


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


# --------------------------------------------------------------------------- walint


def normalise_source(line: str) -> str:
    return " ".join(line.split())


def source_line(path: Path, row: int) -> str:
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    if 1 <= row <= len(lines):
        return normalise_source(lines[row - 1])
    return ""


def walint_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("WALINT_CACHE_DIR", None)
    return env


def run_walint(site: Path, files: Sequence[str], dist: str) -> List[Finding]:
    argv = [
        sys.executable, "-m", "walint", "check",
        "--isolated", "--no-cache", "--output-format", "json", "--exit-zero",
        *files,
    ]
    proc = subprocess.run(argv, cwd=site, env=walint_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"error: walint exited {proc.returncode} on {dist}")
    findings = []
    for item in json.loads(proc.stdout or "[]"):
        rel = item["filename"].replace("\\", "/")
        row = item["location"]["row"]
        findings.append(Finding(dist, rel, item["code"], source_line(site / rel, row), row, item["message"]))
    return findings


# --------------------------------------------------------------------------- snapshot


def load_snapshot(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["findings"]


def entry_key(entry: dict) -> Key:
    return (entry["dist"], entry["path"], entry["code"], entry["source"])


def count_keys(findings: Iterable[Finding]) -> Counter:
    return Counter(f.key for f in findings)


def compare(snapshot: Sequence[dict], findings: Sequence[Finding]) -> Tuple[List[Key], List[Key]]:
    """(new, vanished) keys; a key found n times more (or fewer) than recorded appears n times."""
    recorded = Counter({entry_key(e): e.get("count", 1) for e in snapshot})
    current = count_keys(findings)
    new = sorted((current - recorded).elements())
    vanished = sorted((recorded - current).elements())
    return new, vanished


def updated_snapshot(snapshot: Sequence[dict], findings: Sequence[Finding]) -> List[dict]:
    """The snapshot for ``findings``: verdicts kept by key, new keys ``unreviewed``."""
    verdicts = {entry_key(e): e.get("verdict", UNREVIEWED) for e in snapshot}
    counts = count_keys(findings)
    first: Dict[Key, Finding] = {}
    for finding in sorted(findings, key=lambda f: (f.key, f.line)):
        first.setdefault(finding.key, finding)
    entries = []
    for key in sorted(first):
        finding = first[key]
        entry = {
            "dist": finding.dist,
            "path": finding.path,
            "code": finding.code,
            "source": finding.source,
            "line": finding.line,
            "message": finding.message,
            "verdict": verdicts.get(key, UNREVIEWED),
        }
        if counts[key] > 1:
            entry["count"] = counts[key]
        entries.append(entry)
    return entries


def write_snapshot(path: Path, entries: Sequence[dict]) -> None:
    payload = {
        "comment": "walint findings on the pinned distributions of packages.txt, keyed by "
        "(dist, path, code, source); 'line' and 'message' are informational. "
        "Regenerate with `python ecosystem/run.py --update`; write each verdict by hand.",
        "findings": list(entries),
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def verdict_kind(verdict: str) -> str:
    for kind in VERDICT_KINDS:
        if verdict.startswith(kind + ":"):
            return kind
    return UNREVIEWED


# --------------------------------------------------------------------------- report


def walint_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "walint"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (walint/ modified)" if dirty else "")


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def render_results(
    scans: Sequence[DistScan],
    snapshot: Sequence[dict],
    new: Sequence[Key],
    vanished: Sequence[Key],
    install_seconds: Optional[float],
) -> str:
    findings = [f for s in scans for f in s.findings]
    verdicts = {entry_key(e): e.get("verdict", UNREVIEWED) for e in snapshot}
    files = sum(len(s.files) for s in scans)
    lines = sum(s.lines for s in scans)
    seconds = sum(s.seconds for s in scans)
    out: List[str] = []
    add = out.append
    add("# Ecosystem check: results")
    add("")
    add("Written by `python ecosystem/run.py` (see [README.md](README.md)); do not edit by hand.")
    add("")
    add(f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    add(f"- walint commit: {walint_commit()}")
    add(f"- Python: {platform.python_version()} on {platform.system()} {platform.machine()}")
    add(f"- distributions: {len(scans)}; files scanned: {files}; lines: {lines}")
    add(f"- walint time: {seconds:.1f} s (one run per distribution, `--no-cache`)"
        + (f"; install time: {install_seconds:.1f} s" if install_seconds is not None else ""))
    add(f"- findings: {len(findings)}; compared with snapshot.json: {len(new)} new, {len(vanished)} vanished")
    add("")
    kinds = Counter(verdict_kind(verdicts.get(f.key, UNREVIEWED)) for f in findings)
    add("Verdicts: " + ", ".join(f"{k}: {kinds.get(k, 0)}" for k in (*VERDICT_KINDS, UNREVIEWED)))
    add("")
    add("## Findings per rule")
    add("")
    add("| rule | findings | true positive | false alarm | debatable | unreviewed |")
    add("|---|---|---|---|---|---|")
    per_rule: Dict[str, Counter] = {}
    for f in findings:
        per_rule.setdefault(f.code, Counter())[verdict_kind(verdicts.get(f.key, UNREVIEWED))] += 1
    for code in sorted(per_rule):
        c = per_rule[code]
        add(f"| {code} | {sum(c.values())} | " + " | ".join(str(c.get(k, 0)) for k in (*VERDICT_KINDS, UNREVIEWED)) + " |")
    add("")
    add("## Distributions")
    add("")
    add("| distribution | version | deps | files | lines | findings | seconds |")
    add("|---|---|---|---|---|---|---|")
    for s in scans:
        add(
            f"| {s.pin.name} | {s.pin.version} | {'no' if s.pin.no_deps else 'yes'} | {len(s.files)} | "
            f"{s.lines} | {len(s.findings)} | {s.seconds:.1f} |"
        )
    add("")

    def finding_rows(selected: Sequence[Finding]) -> None:
        add("| distribution | file:line | code | source | verdict |")
        add("|---|---|---|---|---|")
        for f in selected:
            verdict = verdicts.get(f.key, UNREVIEWED)
            add(f"| {f.dist} | `{f.path}:{f.line}` | {f.code} | `{md_escape(f.source)}` | {md_escape(verdict)} |")
        add("")

    ordered = sorted(findings, key=lambda f: (f.dist.lower(), f.path, f.line, f.code))
    add("## False alarms")
    add("")
    false_alarms = [f for f in ordered if verdict_kind(verdicts.get(f.key, UNREVIEWED)) == "false alarm"]
    if false_alarms:
        finding_rows(false_alarms)
    else:
        add("None.")
        add("")
    add("## All findings")
    add("")
    if ordered:
        finding_rows(ordered)
    else:
        add("None.")
        add("")
    if new or vanished:
        add("## Differences from snapshot.json")
        add("")
        for label, keys in (("new", new), ("vanished", vanished)):
            for dist, path, code, source in keys:
                add(f"- {label}: {dist} `{path}` {code} `{md_escape(source)}`")
        add("")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="virtualenv to reuse (created if missing) instead of a temporary one")
    parser.add_argument("--packages", type=Path, default=DEFAULT_PACKAGES, help="the pins (default: %(default)s)")
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT, help="default: %(default)s")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="default: %(default)s")
    parser.add_argument("--no-install", action="store_true", help="with --venv: skip pip, the pins are installed")
    parser.add_argument("--update", action="store_true", help="rewrite the snapshot (verdicts kept, new ones 'unreviewed')")
    parser.add_argument("--only", action="append", default=[], help="scan only this distribution (repeatable; no RESULTS.md)")
    args = parser.parse_args(argv)

    pins = parse_packages(args.packages.read_text(encoding="utf-8"))
    if args.only:
        wanted = {canonical(n) for n in args.only}
        pins = [p for p in pins if canonical(p.name) in wanted]
    if args.no_install and args.venv is None:
        parser.error("--no-install needs --venv")
    if args.update and args.only:
        parser.error("--update rewrites the whole snapshot; run it without --only")

    tmp = None
    venv = args.venv
    if venv is None:
        tmp = tempfile.mkdtemp(prefix="walint-ecosystem-")
        venv = Path(tmp) / "venv"
    try:
        install_seconds = None
        if not args.no_install:
            start = time.perf_counter()
            install(venv, pins)
            install_seconds = time.perf_counter() - start
        site_dirs = site_packages(venv)
        scans: List[DistScan] = []
        for pin in pins:
            site, info = find_dist_info(site_dirs, pin)
            scan = DistScan(pin, record_files(site, info))
            scan.lines = sum(count_lines(site / rel) for rel in scan.files)
            start = time.perf_counter()
            if scan.files:
                scan.findings = run_walint(site, scan.files, pin.name)
            scan.seconds = time.perf_counter() - start
            print(f"{pin.requirement}: {len(scan.files)} files, {len(scan.findings)} findings", file=sys.stderr)
            scans.append(scan)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    findings = [f for s in scans for f in s.findings]
    snapshot = load_snapshot(args.snapshot)
    if args.only:  # compare only the distributions scanned
        scanned = {p.name for p in pins}
        snapshot = [e for e in snapshot if e["dist"] in scanned]
    new, vanished = compare(snapshot, findings)
    for dist, path, code, source in new:
        print(f"new:      {dist}  {path}  {code}  {source}")
    for dist, path, code, source in vanished:
        print(f"vanished: {dist}  {path}  {code}  {source}")
    print(f"{len(findings)} findings; {len(new)} new, {len(vanished)} vanished")

    if args.update:
        snapshot = updated_snapshot(snapshot, findings)
        write_snapshot(args.snapshot, snapshot)
        print(f"wrote {args.snapshot}")
        new, vanished = [], []
    if not args.only:
        args.results.write_text(render_results(scans, snapshot, new, vanished, install_seconds) + "\n", encoding="utf-8")
        print(f"wrote {args.results}")
    return 1 if (new or vanished) else 0


if __name__ == "__main__":
    sys.exit(main())
