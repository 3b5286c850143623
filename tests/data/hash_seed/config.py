"""Settings whose two fields an importer reads: the order the project pass hands the uses
over in depends on string hashing."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DatabaseConfig:
    journal_fallback: str = "delete"
    legacy_rollback_journal: bool = False
    permanent_errors: tuple = (
        "locking protocol",
        "database table is locked",  # expect: WAL002
    )
