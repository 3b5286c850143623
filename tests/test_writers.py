"""Every file walint writes besides fixes (baselines, `-o` reports, `walint helper
--output`) refuses what a hostile repository can commit in its place: a symlink out of
the tree, a dangling link, a FIFO. What it does write, it writes atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from walint.cli import main

HAZARD = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')  # $(id > /tmp/pwned)\n"
)

WRITERS = {
    "baseline": lambda name: ["check", "--isolated", "--write-baseline", name, "."],
    "report": lambda name: ["check", "--isolated", "--output-format", "json", "-o", name, "."],
    "helper": lambda name: ["helper", "--force", "--output", name],
}


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A cloned repository beside a victim's dotfile, the working directory its root."""
    victim = tmp_path / ".bashrc"
    victim.write_text("export PATH=$HOME/bin:$PATH\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "store.py").write_text(HAZARD)
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_symlink_out_of_the_tree_is_refused(repository, writer):
    (repository / "out.json").symlink_to("../.bashrc")
    result = CliRunner().invoke(main, WRITERS[writer]("out.json"))
    assert result.exit_code == 2
    assert "out.json: is a symbolic link to a file outside its directory; not written" in result.output
    assert (repository.parent / ".bashrc").read_text() == "export PATH=$HOME/bin:$PATH\n"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_dangling_symlink_is_refused(repository, writer):
    (repository / "out.json").symlink_to("../new-file")
    result = CliRunner().invoke(main, WRITERS[writer]("out.json"))
    assert result.exit_code == 2
    assert "is a dangling symbolic link; not written" in result.output
    assert not (repository.parent / "new-file").exists()


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_special_file_is_refused(repository, writer):
    os.mkfifo(repository / "out.json")
    result = CliRunner().invoke(main, WRITERS[writer]("out.json"))
    assert result.exit_code == 2
    assert "is not a regular file; not written" in result.output


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_symlink_inside_the_tree_is_written_through_and_stays_a_link(repository, writer):
    (repository / "reports").mkdir()
    (repository / "reports" / "real.json").write_text("old\n")
    (repository / "reports" / "out.json").symlink_to("real.json")
    result = CliRunner().invoke(main, WRITERS[writer]("reports/out.json"))
    assert result.exit_code in (0, 1), result.output
    assert (repository / "reports" / "out.json").is_symlink()
    assert (repository / "reports" / "real.json").read_text() != "old\n"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_new_output_gets_its_folders_and_no_temporary_is_left(repository, writer):
    result = CliRunner().invoke(main, WRITERS[writer]("deep/er/out.json"))
    assert result.exit_code in (0, 1), result.output
    assert (repository / "deep" / "er" / "out.json").stat().st_size > 0
    assert [p.name for p in (repository / "deep" / "er").iterdir()] == ["out.json"]


def test_an_existing_outputs_mode_is_kept(repository):
    target = Path("walint-baseline.json")
    target.write_text("{}\n")
    target.chmod(0o640)
    result = CliRunner().invoke(main, WRITERS["baseline"](str(target)))
    assert result.exit_code == 0, result.output
    assert (target.stat().st_mode & 0o777) == 0o640


# ----- what reaches the terminal --------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;owned\x07"


def test_control_characters_in_sources_and_names_are_escaped_in_human_formats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "evil\x1b[2J\nAll checks passed!.py"
    (tmp_path / name).write_text(HAZARD.replace("# $(id > /tmp/pwned)", "# " + ESCAPES))
    for output_format in ("full", "concise", "github"):
        result = CliRunner().invoke(main, ["check", "--isolated", "--no-cache", "--output-format", output_format, "."])
        assert result.exit_code == 1
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert not any(line.startswith("All checks passed!") for line in result.output.splitlines())
        newline = "%0A" if output_format == "github" else "\\x0a"  # GitHub's own escape
        assert f"evil\\x1b[2J{newline}All checks passed!.py" in result.output
    full = CliRunner().invoke(main, ["check", "--isolated", "--no-cache", "."]).output
    assert "# \\x1b[2J\\x1b]0;owned\\x07" in full


def test_machine_formats_keep_the_exact_name(tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    name = "evil\x1b[2J.py"
    (tmp_path / name).write_text(HAZARD)
    result = CliRunner().invoke(main, ["check", "--isolated", "--no-cache", "--output-format", "json", "."])
    assert json.loads(result.output)[0]["filename"].endswith(name)


def test_an_error_about_a_file_escapes_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad\x1b]0;x\x07.py").symlink_to("missing.py")
    result = CliRunner().invoke(main, ["check", "--isolated", "--no-cache", "bad\x1b]0;x\x07.py"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "bad\\x1b]0;x\\x07.py" in result.output
