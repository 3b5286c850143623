import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Test helpers (expectations.py, strategies.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))

# Property tests (tests/test_properties.py). The default profile keeps CI fast; the long
# one is for a thorough local run: `python -m pytest tests/test_properties.py
# --hypothesis-profile=long`. Generated modules take a few milliseconds each to check, and
# hypothesmith is slow to draw, so no deadline and no too-slow health check.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("long", max_examples=3000, deadline=None, suppress_health_check=_QUIET, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def _user_cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("user_cache_home")


@pytest.fixture(autouse=True)
def _isolated_walint_cache(tmp_path_factory, monkeypatch, _user_cache_home):
    """Each test's `walint check` caches into its own new directory, never the working
    tree, and keeps its cache key in a user cache home of the test session's own."""
    monkeypatch.setenv("WALINT_CACHE_DIR", str(tmp_path_factory.mktemp("walint_cache") / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_user_cache_home))
