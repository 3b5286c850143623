"""[tool.walint]: finding it, checking every key, anchoring paths, and the command line on top."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from walint.cli import main
from walint.config import ConfigError, Options, find_config, load_config, resolve_settings
from walint.settings import Settings

VULNERABLE = (
    "_WAL_INCOMPAT_MARKERS = ('locking protocol', 'disk i/o error')\n"
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


def _pyproject(directory, body: str):
    path = directory / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.walint]\n" + textwrap.dedent(body))
    return path


def _codes(result):
    return sorted({line.split(": ")[1].split()[0] for line in result.output.splitlines() if ".py:" in line})


def _check(*args):
    return CliRunner().invoke(main, ["check", "--output-format", "concise", *args])


# ----- finding the file -----------------------------------------------------------------


def test_nearest_pyproject_with_a_walint_table_wins(tmp_path):
    outer = _pyproject(tmp_path, "ignore = ['WAL002']\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text("[project]\nname = 'no walint table'\n")
    (tmp_path / "pkg" / "sub").mkdir()
    assert find_config(str(tmp_path / "pkg" / "sub")) == outer
    assert find_config(str(tmp_path / "pkg" / "sub" / "file.py")) == outer
    inner = _pyproject(tmp_path / "pkg", "ignore = ['WAL001']\n")
    assert find_config(str(tmp_path / "pkg" / "sub")) == inner


def test_config_is_searched_from_the_first_path(tmp_path):
    _pyproject(tmp_path, "ignore = ['WAL002']\n")
    (tmp_path / "store.py").write_text(VULNERABLE)
    result = _check(str(tmp_path / "store.py"))
    assert result.exit_code == 1 and _codes(result) == ["WAL001"]


def test_explicit_config_and_isolated(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    (tmp_path / "conf").mkdir()
    config = _pyproject(tmp_path / "conf", "select = ['WAL002']\n")
    assert _codes(_check("--config", str(config), str(tmp_path))) == ["WAL002"]
    _pyproject(tmp_path, "select = ['WAL002']\n")
    assert _codes(_check("--isolated", str(tmp_path))) == ["WAL001", "WAL002"]


# ----- every key ------------------------------------------------------------------------


def test_every_key_is_read_into_settings(tmp_path):
    path = _pyproject(
        tmp_path,
        """
        select = ["WAL00"]
        extend-select = ["wal100"]
        ignore = ["WAL005"]
        exclude = ["generated", "src/legacy/*"]
        extend-exclude = ["*_pb2.py"]
        per-file-ignores = { "tests/*" = ["WAL001", "WAL002"] }
        helper = "myapp.db:apply_wal"
        guard = ["myapp.db.journal_mode_on_disk"]
        transient-markers = ["resource busy"]
        permanent-markers = ["operation not supported"]
        respect-gitignore = false
        force-exclude = true
        """,
    )
    settings = resolve_settings(load_config(path), Options())
    here = str(tmp_path)
    assert settings == Settings(
        select=("WAL00",),
        extend_select=("WAL100",),
        ignore=("WAL005",),
        exclude=("generated", os.path.join(here, "src", "legacy", "*"), "*_pb2.py"),
        per_file_ignores=((os.path.join(here, "tests", "*"), ("WAL001", "WAL002")),),
        respect_gitignore=False,
        force_exclude=True,
        guards=("myapp.db.journal_mode_on_disk",),
        transient_markers=("resource busy",),
        permanent_markers=("operation not supported",),
        helper="myapp.db:apply_wal",
    )


def test_settings_stay_picklable_for_worker_processes(tmp_path):
    import pickle

    path = _pyproject(tmp_path, "per-file-ignores = { 'a/*' = ['WAL001'] }\nexclude = ['b']\n")
    settings = resolve_settings(load_config(path), Options())
    assert pickle.loads(pickle.dumps(settings)) == settings


@pytest.mark.parametrize(
    "body, expected",
    [
        ("selct = ['WAL001']\n", "unknown key 'selct' (did you mean 'select'?)"),
        ("per_file_ignores = {}\n", "unknown key 'per_file_ignores' (did you mean 'per-file-ignores'?)"),
        ("select = 'WAL001'\n", "[tool.walint] select must be a list of strings"),
        ("select = ['WAL999']\n", "[tool.walint] select: unknown rule code 'WAL999'"),
        ("ignore = ['E501']\n", "[tool.walint] ignore: unknown rule code 'E501'"),
        ("respect-gitignore = 'no'\n", "[tool.walint] respect-gitignore must be true or false"),
        ("per-file-ignores = ['tests/*']\n", "per-file-ignores must be a table"),
        ("per-file-ignores = { 'tests/*' = ['XYZ1'] }\n", "per-file-ignores.'tests/*': unknown rule code 'XYZ1'"),
        ("helper = 'myapp.apply_wal'\n", "[tool.walint] helper must be 'module.path:function'"),
        ("guard = ['not a name']\n", "'not a name' is not a function name"),
        ("transient-markers = ['']\n", "a marker cannot be empty"),
        ("exclude = [1]\n", "[tool.walint] exclude must be a list of strings"),
    ],
)
def test_bad_configuration_exits_2_naming_the_file_and_key(tmp_path, body, expected):
    path = _pyproject(tmp_path, body)
    (tmp_path / "store.py").write_text(VULNERABLE)
    result = _check(str(tmp_path))
    assert result.exit_code == 2
    assert f"walint: error: {path}:" in result.output
    assert expected in result.output


def test_invalid_toml_exits_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.walint\nselect = \n")
    result = _check(str(tmp_path))
    assert result.exit_code == 2 and "invalid TOML" in result.output


def test_explicit_config_without_a_walint_table_is_an_error(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool\.walint\] table"):
        load_config(config)


# ----- paths are relative to the file -----------------------------------------------------


def test_paths_in_the_file_are_relative_to_it_whatever_the_working_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "src" / "legacy").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "src" / "legacy" / "old.py").write_text(VULNERABLE)
    (project / "src" / "store.py").write_text(VULNERABLE)
    (project / "tests" / "test_store.py").write_text(VULNERABLE)
    _pyproject(project, "exclude = ['src/legacy']\nper-file-ignores = { 'tests/*' = ['WAL'] }\n")
    for cwd in (project, project / "src", tmp_path):
        monkeypatch.chdir(cwd)
        result = _check(os.path.relpath(project))
        files = {line.split(":")[0] for line in result.output.splitlines() if ".py:" in line}
        assert {os.path.basename(f) for f in files} == {"store.py"}, (cwd, result.output)


def test_a_bare_name_excludes_that_name_anywhere(tmp_path):
    (tmp_path / "a" / "generated").mkdir(parents=True)
    (tmp_path / "a" / "generated" / "x.py").write_text(VULNERABLE)
    (tmp_path / "a" / "y.py").write_text(VULNERABLE)
    _pyproject(tmp_path, "exclude = ['generated']\n")
    result = _check(str(tmp_path))
    assert "y.py" in result.output and "x.py" not in result.output


def test_a_named_directory_is_checked_even_when_its_name_is_excluded(tmp_path):
    """Like ruff: excludes prune the walk; they do not undo a path given explicitly."""
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "store.py").write_text(VULNERABLE)
    _pyproject(tmp_path, "exclude = ['fixtures']\n")
    assert _check(str(tmp_path)).exit_code == 0
    assert _check(str(tmp_path / "fixtures")).exit_code == 1


# ----- the command line on top ------------------------------------------------------------


def test_command_line_flags_replace_the_key_of_the_same_name(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    _pyproject(tmp_path, "select = ['WAL002']\nignore = ['WAL001']\n")
    assert _codes(_check(str(tmp_path))) == ["WAL002"]
    assert _codes(_check("--select", "WAL001", str(tmp_path))) == []  # the file's ignore still holds
    assert _codes(_check("--select", "WAL001", "--ignore", "WAL005", str(tmp_path))) == ["WAL001"]


def test_extend_flags_add_to_the_file(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE.replace("DELETE')\n", "DELETE')  # noqa: WAL002\n"))
    _pyproject(tmp_path, "select = ['WAL001']\n")
    assert _codes(_check("--extend-select", "WAL100", str(tmp_path))) == ["WAL001", "WAL100"]
    file_options = Options(extend_exclude=("a",), extend_select=("WAL100",))
    settings = resolve_settings(file_options, Options(extend_exclude=("b",), exclude=("c",)))
    assert settings.exclude == ("c", "a", "b") and settings.extend_select == ("WAL100",)


def test_unknown_code_on_the_command_line_names_the_flag(tmp_path):
    result = _check("--ignore", "WAL1,NOPE1", str(tmp_path))
    assert result.exit_code == 2
    assert "walint: error: --ignore: unknown rule code 'NOPE1'" in result.output


def test_respect_gitignore_from_the_file(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    (tmp_path / "ignored.py").write_text(VULNERABLE)
    assert _check(str(tmp_path)).exit_code == 0
    _pyproject(tmp_path, "respect-gitignore = false\n")
    assert _check(str(tmp_path)).exit_code == 1
    assert _check("--respect-gitignore", str(tmp_path)).exit_code == 0


def test_per_file_ignores_take_code_prefixes_and_bare_names(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    (tmp_path / "other.py").write_text(VULNERABLE)
    _pyproject(tmp_path, "per-file-ignores = { 'store.py' = ['WAL00'] }\n")
    result = _check(str(tmp_path))
    assert "store.py" not in result.output and "other.py" in result.output


def test_the_readme_example_is_a_valid_configuration(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text(example)
    settings = resolve_settings(load_config(tmp_path / "pyproject.toml"), Options())
    assert settings.extend_select == ("WAL100",) and settings.helper == "myapp.db:apply_wal"


def test_an_empty_rule_selector_on_the_command_line_is_an_error(tmp_path):
    (tmp_path / "store.py").write_text("conn.execute('PRAGMA journal_mode=DELETE')\n")
    for flag, value in [("--select", ""), ("--ignore", "WAL001,"), ("--extend-select", " ")]:
        result = _check(flag, value, str(tmp_path))
        assert result.exit_code == 2, (flag, result.output)
        assert f"walint: error: {flag}: unknown rule selector" in result.output
