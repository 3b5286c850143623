"""The per-file result cache, attacked as a cloned repository and a co-user would.

A cache entry is input from whoever could write the cache directory. These tests plant
entries the way an attacker can (a committed `.walint_cache`, a swapped or forged entry,
a folder another user made first) and assert that each one is a miss or a refusal: the
real findings are still reported and nothing planted is ever run or written.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from walint import cache as cache_module
from walint import cli
from walint.cache import Cache, code_fingerprint, user_secret
from walint.findings import FileResult
from walint.findings import Edit, Finding, Fix, Location
from walint.settings import Settings

HAZARD = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


class _Payload:
    """Unpickling this would leave a mark on disk; walint must never unpickle anything."""

    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "store.py").write_text(HAZARD)
    return project


def _check(project: Path, cache_dir: Path, capsys, *extra: str):
    """Run `walint check` in-process; its exit code, JSON findings and stderr."""
    output = project.parent / "report.json"
    code = cli.run(
        ["check", "--isolated", "--jobs", "1", "--cache-dir", str(cache_dir), "--output-format", "json",
         "-o", str(output), *extra, str(project)]
    )
    return code, json.loads(output.read_text()), capsys.readouterr().err


def _entries(cache_dir: Path):
    return [p for p in cache_dir.rglob("*") if p.is_file() and len(p.name) == 64]


def test_a_committed_pickle_cache_is_never_loaded(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = project / ".walint_cache"
    code, findings, _ = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1
    sentinel = tmp_path / "executed"
    # What a hostile repository commits: every entry replaced by a pickle that runs a command.
    for entry in _entries(cache_dir):
        entry.write_bytes(pickle.dumps(_Payload(str(sentinel))))
    code, again, _ = _check(project, cache_dir, capsys)
    assert not sentinel.exists(), "walint unpickled a cache entry"
    assert code == 1 and again == findings


def test_a_swapped_entry_is_a_miss(tmp_path, capsys):
    """Renaming one authentic entry over another's key does not move its result."""
    project = _project(tmp_path)
    (project / "clean.py").write_text("# journal_mode is read here, never set\n")
    cache_dir = tmp_path / "cache"
    code, findings, _ = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1
    entries = _entries(cache_dir)
    assert len(entries) == 2
    first, second = entries
    first_bytes, second_bytes = first.read_bytes(), second.read_bytes()
    first.write_bytes(second_bytes)
    second.write_bytes(first_bytes)
    code, again, _ = _check(project, cache_dir, capsys)
    assert code == 1 and again == findings


def test_a_forged_fix_in_an_entry_never_reaches_the_file(tmp_path, capsys):
    """An entry rewritten to carry a "safe" fix that inserts code: its MAC no longer holds."""
    project = _project(tmp_path)
    cache_dir = tmp_path / "cache"
    _check(project, cache_dir, capsys)
    (entry,) = _entries(cache_dir)
    mac, payload = entry.read_bytes().split(b"\n", 1)
    document = json.loads(payload)
    evil = {"content": "import os; os.system('id')\n", "location": {"row": 1, "column": 1},
            "end_location": {"row": 1, "column": 1}}
    for finding in document["findings"]:
        finding["fix"] = {"message": "harmless", "applicability": "safe", "edits": [evil]}
    entry.write_bytes(mac + b"\n" + json.dumps(document).encode())
    code = cli.run(["fix", "--isolated", "--jobs", "1", "--cache-dir", str(cache_dir), str(project)])
    assert "os.system" not in (project / "store.py").read_text()
    assert code in (0, 1)


def test_an_entry_of_the_wrong_shape_is_a_miss_even_when_authentic(tmp_path):
    """Validation does not rest on the MAC alone: a well-signed entry of another shape
    (an older walint's, say) is decoded field by field and rejected."""
    store = Cache(str(tmp_path / "cache"))
    key = "ab" * 32
    result = FileResult("x.py", (Finding("x.py", "WAL001", "m", Location(1, 1), Location(1, 2)),))
    store.put(key, result)
    assert store.get(key) == result
    (entry,) = _entries(tmp_path / "cache")
    for payload in (b'{"path": 1}', b'[]', b'{"path": "x.py", "findings": [{"code": "WAL001"}]}', b"\xff"):
        entry.write_bytes(store._mac(key, payload).encode() + b"\n" + payload)
        assert store.get(key) is None


def test_results_round_trip_through_the_cache(tmp_path):
    store = Cache(str(tmp_path / "cache"))
    fix = Fix("Call the helper", "unsafe", (Edit("x\r\n\u00e9", Location(2, 3), Location(4, 5)),))
    finding = Finding("p/\u00fc.py", "WAL004", "message", Location(1, 1), Location(1, 9), fix, None, "stmt")
    result = FileResult("p/\u00fc.py", (finding,), ("a rule crashed",))
    store.put("cd" * 32, result)
    assert store.get("cd" * 32) == result
    assert store.get("cd" * 32).findings[0].fingerprint == "stmt"


def test_the_key_covers_walints_own_code(monkeypatch):
    settings = Settings()
    monkeypatch.setattr(cache_module, "_fingerprint_memo", ["one"])
    before = Cache.key("a.py", b"x", settings)
    monkeypatch.setattr(cache_module, "_fingerprint_memo", ["two"])
    assert Cache.key("a.py", b"x", settings) != before


def test_the_code_fingerprint_is_a_hash_of_the_installed_modules():
    assert len(code_fingerprint()) == 64 and code_fingerprint() == code_fingerprint()


def test_the_secret_is_private_to_the_user(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cache_module, "_secret_memo", {})
    secret, problem = user_secret()
    assert problem is None and secret is not None
    path = tmp_path / "home" / "walint" / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setattr(cache_module, "_secret_memo", {})
    assert user_secret() == (secret, None)
    # A secret others can read is no secret: refuse it rather than sign with it.
    path.chmod(0o644)
    monkeypatch.setattr(cache_module, "_secret_memo", {})
    secret, problem = user_secret()
    assert secret is None and "another user" in problem


def test_a_cache_writable_by_others_is_refused_with_a_warning(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = tmp_path / "cache"
    _check(project, cache_dir, capsys)
    cache_dir.chmod(0o777)
    for entry in _entries(cache_dir):
        entry.write_bytes(b"0" * 64 + b"\n{}")
    code, findings, err = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1
    assert "is writable by other users; running without the cache" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the folder away")
def test_a_cache_owned_by_another_user_is_refused(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = tmp_path / "cache"
    _check(project, cache_dir, capsys)
    version_dir = next(p for p in cache_dir.iterdir() if p.is_dir())
    os.chown(version_dir, 4242, 4242)
    code, findings, err = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1
    assert "is owned by another user; running without the cache" in err


def test_a_shard_that_is_a_symlink_is_not_followed(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = tmp_path / "cache"
    _check(project, cache_dir, capsys)
    (entry,) = _entries(cache_dir)
    elsewhere = tmp_path / "elsewhere"
    entry.parent.rename(elsewhere)
    (elsewhere / entry.name).write_bytes(b"0" * 64 + b"\n{}")
    entry.parent.symlink_to(elsewhere, target_is_directory=True)
    code, findings, _ = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1
    assert (elsewhere / entry.name).read_bytes() == b"0" * 64 + b"\n{}", "walint wrote through the symlink"


@pytest.mark.parametrize("name", ["src", "."])
def test_a_folder_walint_did_not_create_is_not_turned_into_a_cache(tmp_path, capsys, monkeypatch, name):
    project = _project(tmp_path)
    source = project / "src"
    source.mkdir()
    (source / "keep.py").write_text("x = 1\n")
    monkeypatch.chdir(project)
    code, findings, err = _check(project, Path(name), capsys)
    assert code == 1 and len(findings) == 1
    assert "running without the cache" in err
    assert sorted(p.name for p in source.iterdir()) == ["keep.py"]
    assert not (project / ".gitignore").exists() and not (project / "CACHEDIR.TAG").exists()


def test_a_new_cache_ignores_itself_and_is_private(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = tmp_path / "new" / "cache"
    _check(project, cache_dir, capsys)
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache_dir / "CACHEDIR.TAG").read_bytes().startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    assert stat.S_IMODE(cache_dir.stat().st_mode) & 0o077 == 0


def test_a_cache_an_earlier_walint_created_is_still_used(tmp_path, capsys):
    project = _project(tmp_path)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    (cache_dir / "CACHEDIR.TAG").write_bytes(b"Signature: 8a477f597d28d172789f06886806bc55\n# Created by walint.\n")
    code, findings, err = _check(project, cache_dir, capsys)
    assert code == 1 and len(findings) == 1 and "running without the cache" not in err
    assert _entries(cache_dir)
