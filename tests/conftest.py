import sys
from pathlib import Path

# Test helpers (expectations.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))


import pytest


@pytest.fixture(autouse=True)
def _isolated_walint_cache(tmp_path_factory, monkeypatch):
    """Each test's `walint check` caches into its own directory, never the working tree."""
    monkeypatch.setenv("WALINT_CACHE_DIR", str(tmp_path_factory.mktemp("walint_cache")))
