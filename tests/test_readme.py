"""README.md's snippets run: a snippet that stops working fails the suite.

Every ```sh, ```yaml and ```toml block is either run (or validated) here or marked, right
above it, `<!-- snippet: not-run (why) -->`. Shell blocks run line by line in a copy of
this checkout committed to a fresh repository, with that copy installed into its own
`.venv` (made once per session) first on PATH; each command must exit with the code its
comment states ("exits 1"), else 0. The pre-commit configuration runs under the real
`pre-commit run` with `repo:` pointing at that copy and `rev:` at its commit. TOML blocks
are loaded with walint's configuration loader.

Installing the copy fetches walint's dependencies from the package index; when none can
be reached the shell and pre-commit tests are skipped, saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest
import yaml

from checkout import GIT_IDENTITY, ROOT, VULNERABLE, copy_of_checkout, git
from walint.config import Options, _CHECKS, load_config, resolve_settings

README = ROOT / "README.md"
LANGUAGES = ("sh", "yaml", "toml")
NOT_RUN = re.compile(r"^not-run \((?P<why>[^)]+)\)$")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<marker>.*?)\s*-->\s*$")
_EXITS = re.compile(r"#.*?\bexits? (?P<code>\d+)\b")
PRE_COMMIT_HEADER = "# .pre-commit-config.yaml"

# What pip says when it cannot reach an index (or the index lacks a dependency).
_NO_INDEX = re.compile(
    r"No matching distribution found|Could not find a version that satisfies|NewConnectionError"
    r"|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable"
)


@dataclass(frozen=True)
class Snippet:
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: Optional[str]

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.lang}"


def snippets(text: str) -> List[Snippet]:
    """Every fenced block of ``text``, dedented, with the marker comment right above it."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        index += 1
        body = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        assert index < len(lines), f"README.md:{start + 1}: the block never closes"
        index += 1
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        marker = _MARKER.match(lines[above]) if above >= 0 else None
        found.append(
            Snippet(start + 1, fence["lang"], textwrap.dedent("\n".join(body)) + "\n", marker["marker"] if marker else None)
        )
    return found


SNIPPETS = snippets(README.read_text(encoding="utf-8"))


def _of(lang: str, run: bool = True) -> List[Snippet]:
    return [s for s in SNIPPETS if s.lang == lang and (s.marker is None) == run]


def _params(blocks: List[Snippet]):
    return [pytest.param(block, id=block.id) for block in blocks]


# ----- every block is run or marked --------------------------------------------------------


def test_every_block_is_run_or_marked_as_not_run_with_a_reason():
    assert SNIPPETS, "no fenced blocks found in README.md"
    problems = []
    for block in SNIPPETS:
        if block.lang not in LANGUAGES:
            problems.append(f"{block.id}: a ```{block.lang} block; use one of {LANGUAGES}")
        if block.marker is not None and not NOT_RUN.match(block.marker):
            problems.append(f"{block.id}: marker {block.marker!r} is not `not-run (why)`")
        if block.lang == "yaml" and block.marker is None and not block.text.startswith(PRE_COMMIT_HEADER):
            problems.append(f"{block.id}: a YAML block this test cannot run; mark it `not-run (why)`")
    # A marker must sit right above a block, not drift away from it.
    markers = len(re.findall(r"<!--\s*snippet:", README.read_text(encoding="utf-8")))
    if markers != sum(1 for block in SNIPPETS if block.marker is not None):
        problems.append("a `<!-- snippet: ... -->` marker is not right above a fenced block")
    assert not problems, "\n".join(problems)
    assert _of("sh") and _of("toml") and _of("yaml"), "expected runnable sh, toml and yaml blocks"


def test_snippets_are_found_with_their_markers_and_indentation():
    text = "a\n\n<!-- snippet: not-run (why) -->\n```sh\nx\n```\n\n- item\n\n  ```toml\n  k = 1\n  ```\n"
    first, second = snippets(text)
    assert (first.lang, first.text, first.marker, first.line) == ("sh", "x\n", "not-run (why)", 4)
    assert (second.lang, second.text, second.marker) == ("toml", "k = 1\n", None)


@pytest.mark.parametrize("block", _params([s for s in SNIPPETS if s.lang == "yaml"]))
def test_yaml_blocks_parse(block):
    assert isinstance(yaml.safe_load(block.text), dict)


# ----- TOML: walint's configuration loader accepts it ---------------------------------------


@pytest.mark.parametrize("block", _params(_of("toml")))
def test_toml_blocks_are_valid_configurations(block, tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(block.text)
    options = load_config(path)  # raises ConfigError, naming the key, on anything wrong
    resolve_settings(options, Options())


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [key.replace("_", "-") for key in _CHECKS if f"{key.replace('_', '-')}" not in text]
    assert not missing, f"settings the README never mentions: {missing}"


# ----- shell and pre-commit: run in an installed copy of this checkout ---------------------


@pytest.fixture(scope="session")
def installed_copy(tmp_path_factory):
    """A copy of this checkout, committed, with walint installed (editable) in its `.venv`."""
    copy = copy_of_checkout(tmp_path_factory.mktemp("readme") / "walint")
    subprocess.run([sys.executable, "-m", "venv", str(copy / ".venv")], check=True, capture_output=True)
    installed = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(copy)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if installed.returncode != 0:
        output = installed.stdout + installed.stderr
        if _NO_INDEX.search(output):
            pytest.skip("no package index reachable to install walint's dependencies from:\n" + output[-800:])
        pytest.fail("pip install -e of the copy failed:\n" + output[-3000:])
    return copy


def _user_env(copy: Path, home: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WALINT_", "VIRTUAL_ENV"))}
    env.update(GIT_IDENTITY)
    env.update(
        PATH=f"{copy / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        XDG_CACHE_HOME=str(home / "cache"),
        PRE_COMMIT_HOME=str(home / "pre-commit"),
        NO_COLOR="1",
    )
    env.pop("FORCE_COLOR", None)
    return env


def _reset(copy: Path) -> None:
    """The copy as committed: what one block did never leaks into the next."""
    git("checkout", "-q", "--", ".", cwd=copy)
    git("clean", "-fdxq", "-e", ".venv", "-e", "*.egg-info", cwd=copy)


def commands(block: Snippet) -> List[str]:
    """The block's commands, continuation lines joined; comment-only lines dropped."""
    joined = block.text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def expected_exit(command: str) -> int:
    stated = _EXITS.search(command)
    return int(stated["code"]) if stated else 0


def test_expected_exit_codes_come_from_the_comment():
    assert expected_exit("walint check fixtures/   # each finding; exits 1") == 1
    assert expected_exit("walint fix --diff x/   # write nothing (exits 1 if any)") == 1
    assert expected_exit("walint rules   # every rule") == 0
    assert commands(Snippet(1, "sh", "# only a comment\na \\\n  b\n\nc\n", None)) == ["a    b", "c"]


@pytest.mark.parametrize("block", _params(_of("sh")))
def test_shell_blocks_run_and_exit_as_stated(block, installed_copy, tmp_path):
    _reset(installed_copy)
    env = _user_env(installed_copy, tmp_path)
    for command in commands(block):
        completed = subprocess.run(
            command,
            shell=True,
            cwd=installed_copy,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
        output = f"$ {command}\n--- stdout\n{completed.stdout[-3000:]}\n--- stderr\n{completed.stderr[-3000:]}"
        assert completed.returncode == expected_exit(command), f"{block.id}: exit {completed.returncode}\n{output}"
        assert "Traceback" not in completed.stderr, output


def _pre_commit_block() -> Snippet:
    (block,) = [s for s in _of("yaml") if s.text.startswith(PRE_COMMIT_HEADER)]
    return block


def test_pre_commit_configuration_runs_the_hooks(installed_copy, tmp_path):
    block = _pre_commit_block()
    # The README shows placeholders where a user puts the repository and one of its commits.
    assert re.search(r"^\s*- repo: \S+", block.text, re.M), block.text
    assert re.search(r"^\s*rev: [0-9a-f]{40}\b", block.text, re.M), "rev: must be a commit SHA, as the README says"
    sha = git("rev-parse", "HEAD", cwd=installed_copy).strip()
    config = re.sub(r"^(\s*- repo: )\S+", lambda m: m[1] + str(installed_copy), block.text, count=1, flags=re.M)
    config = re.sub(r"^(\s*rev: )[0-9a-f]{40}", lambda m: m[1] + sha, config, count=1, flags=re.M)

    work = tmp_path / "work"
    work.mkdir()
    (work / "store.py").write_text(VULNERABLE)
    (work / ".pre-commit-config.yaml").write_text(config)
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    env = _user_env(installed_copy, tmp_path)

    def pre_commit(*args):
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )

    validated = pre_commit("validate-config", ".pre-commit-config.yaml")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    failed = pre_commit("run", "--all-files")
    if failed.returncode == 3 and _NO_INDEX.search(failed.stdout + failed.stderr):
        pytest.skip("no package index reachable for pre-commit to install the hook")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "store.py:8:9: WAL001" in failed.stdout

    # The commented-out fix hook, enabled where the comment says: before `walint`.
    hooks = re.search(r"^(?P<indent>\s*)- id: walint\n(?P=indent)# - id: walint-fix\b[^\n]*\n", config, re.M)
    assert hooks, "the README's config should show `- id: walint-fix` commented out below `- id: walint`"
    indent = hooks["indent"]
    config = config.replace(hooks[0], f"{indent}- id: walint-fix\n{indent}- id: walint\n")
    (work / ".pre-commit-config.yaml").write_text(config)
    git("add", "-A", cwd=work)
    fixed = pre_commit("run", "--all-files")
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout, fixed.stdout + fixed.stderr
    assert "apply_wal_with_fallback(conn)" in (work / "store.py").read_text()
    git("add", "-A", cwd=work)
    passed = pre_commit("run", "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
