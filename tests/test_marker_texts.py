"""How a marker string is classified: a message, a fragment of one, a result-code name,
or a simple regular expression spelling out several of them."""

from __future__ import annotations

import pytest

from walint.markers import PERMANENT, TRANSIENT, classify_text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("database is locked", TRANSIENT),
        ("locked", TRANSIENT),
        ("locking protocol", PERMANENT),
        ("SQLITE_IOERR_SHORT_READ", TRANSIENT),
        ("network share", None),
        # Patterns: each text they match counts; one transient text makes them transient.
        ("database is (locked|busy)", TRANSIENT),
        ("database (?:table )?is locked", TRANSIENT),
        (r"^disk\s+I/O error$", TRANSIENT),
        (r"\block(?:ing)? protocol\b", PERMANENT),
        ("(?:not authorized|locking protocol)", PERMANENT),
        ("locking protocol|database is busy", TRANSIENT),
        ("disk I/O error (code 10)", TRANSIENT),
        # Not patterns, or not ones worth spelling out: the text as it is.
        ("cost: $5 (estimate)", None),
        ("(" + "|".join(f"word{i}" for i in range(40)) + ") locked", None),
    ],
)
def test_classify_text(text, expected):
    assert classify_text(text) == expected
