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


# ----- include, extend-include, extend-per-file-ignores, cache-dir, jobs --------------------


def test_include_replaces_and_extend_include_adds_to_the_files_a_walk_picks(tmp_path):
    for name in ("a.py", "b.pyi", "c.pyw", "d.txt"):
        (tmp_path / name).write_text(VULNERABLE)

    def shown(*args):
        result = CliRunner().invoke(main, ["check", "--show-files", *args, str(tmp_path)])
        assert result.exit_code == 0, result.output
        return sorted(Path(line).name for line in result.output.splitlines())

    assert shown() == ["a.py", "b.pyi"]
    _pyproject(tmp_path, "extend-include = ['*.pyw']\n")
    assert shown() == ["a.py", "b.pyi", "c.pyw"]
    _pyproject(tmp_path, "include = ['*.pyw']\n")
    assert shown() == ["c.pyw"]
    assert shown("--include", "*.py") == ["a.py"]
    assert shown("--extend-include", "*.txt") == ["c.pyw", "d.txt"]
    # A file named on the command line is checked whatever its name, as in ruff.
    named = CliRunner().invoke(main, ["check", "--show-files", str(tmp_path / "d.txt")])
    assert named.output.strip().endswith("d.txt")


def test_extend_per_file_ignores_adds_to_per_file_ignores(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    (tmp_path / "other.py").write_text(VULNERABLE)
    (tmp_path / "third.py").write_text(VULNERABLE)
    _pyproject(
        tmp_path,
        "per-file-ignores = { 'store.py' = ['WAL'] }\nextend-per-file-ignores = { 'other.py' = ['WAL001', 'WAL002'] }\n",
    )
    result = _check(str(tmp_path))
    assert "store.py" not in result.output and "other.py" not in result.output and "third.py" in result.output
    settings = resolve_settings(load_config(tmp_path / "pyproject.toml"), Options())
    assert [codes for _, codes in settings.per_file_ignores] == [("WAL",), ("WAL001", "WAL002")]


def test_jobs_and_cache_dir_come_from_the_file_and_the_command_line_overrides(tmp_path):
    from walint.cli.inputs import Inputs
    from walint.cli.options import RunOptions

    _pyproject(tmp_path, "jobs = 3\ncache-dir = 'build/walint'\n")
    options = load_config(tmp_path / "pyproject.toml")
    assert options.jobs == 3 and options.cache_dir == str(tmp_path / "build" / "walint")
    inputs = Inputs(Settings(), [], config=str(tmp_path / "pyproject.toml"), options=options)
    jobs, cache = RunOptions().resolve(inputs)
    assert jobs == 3 and cache.root == tmp_path / "build" / "walint"
    jobs, cache = RunOptions(jobs=1, cache_dir="elsewhere").resolve(inputs)
    assert jobs == 1 and cache.root == Path("elsewhere")
    assert RunOptions(no_cache=True).resolve(inputs) == (3, None)


def test_the_cache_is_at_the_project_root_wherever_walint_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("WALINT_CACHE_DIR")
    (tmp_path / ".git").mkdir()
    _pyproject(tmp_path, "ignore = []\n")
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "store.py").write_text(VULNERABLE)
    monkeypatch.chdir(tmp_path / "pkg" / "sub")
    assert _check(".").exit_code == 1
    assert (tmp_path / ".walint_cache").is_dir() and not Path(".walint_cache").exists()
    cleaned = CliRunner().invoke(main, ["clean"])
    assert cleaned.exit_code == 0 and not (tmp_path / ".walint_cache").exists(), cleaned.output
    # --isolated reads no configuration: the working directory is the root.
    assert _check("--isolated", ".").exit_code == 1
    assert Path(".walint_cache").is_dir()
    # `cache-dir` is relative to the configuration file; WALINT_CACHE_DIR and --cache-dir win.
    _pyproject(tmp_path, "cache-dir = 'build/cache'\n")
    assert _check(".").exit_code == 1 and (tmp_path / "build" / "cache").is_dir()
    monkeypatch.setenv("WALINT_CACHE_DIR", str(tmp_path / "from-env"))
    assert _check(".").exit_code == 1 and (tmp_path / "from-env").is_dir()
    assert _check("--cache-dir", str(tmp_path / "from-flag"), ".").exit_code == 1 and (tmp_path / "from-flag").is_dir()


# ----- a value of the wrong type: exit 2, a message naming file, key and type ---------------

WRONG_VALUES = [
    "1",
    "-3",
    "1.5",
    "true",
    "'WAL001'",
    "''",
    "[1]",
    "[[1]]",
    "{ a = 1 }",
    "[{ a = 1 }]",
    "1979-05-27",
    "[true]",
    "['x']",
    "{ 'x' = 1 }",
    "{ 'x' = [1] }",
]
# The values among those that are right for a key: any string list, a path, a table.
ACCEPTED = {
    ("exclude", "['x']"),
    ("extend-exclude", "['x']"),
    ("include", "['x']"),
    ("extend-include", "['x']"),
    ("guard", "['x']"),
    ("transient-markers", "['x']"),
    ("permanent-markers", "['x']"),
    ("cache-dir", "'WAL001'"),
    ("jobs", "1"),
    ("respect-gitignore", "true"),
    ("force-exclude", "true"),
}
INTERNALS = ("object", "NoneType", "indices", "Traceback", "Error:", "str'", "int'", "dict'", "list'")


def test_every_key_rejects_wrong_types_with_a_message_naming_file_key_and_type(tmp_path):
    from walint.config import _CHECKS

    (tmp_path / "store.py").write_text(VULNERABLE)
    keys = [name.replace("_", "-") for name in _CHECKS]
    problems = []
    for key in keys:
        for value in WRONG_VALUES:
            if (key, value) in ACCEPTED:
                continue
            path = _pyproject(tmp_path, f"{key} = {value}\n")
            result = CliRunner().invoke(main, ["check", str(tmp_path)])
            output = result.output
            if result.exit_code != 2 or not isinstance(result.exception, SystemExit):
                problems.append(f"{key} = {value}: exit {result.exit_code} {result.exception!r} {output!r}")
            elif f"{path}: [tool.walint] {key}" not in output or any(word in output for word in INTERNALS):
                problems.append(f"{key} = {value}: {output!r}")
    assert not problems, "\n".join(problems)


def test_a_walint_table_of_the_wrong_type_is_an_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool]\nwalint = ['x']\n")
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 2 and "[tool.walint] must be a table" in result.output
