"""walint: find and fix SQLite journal-mode fallbacks that can corrupt a shared database."""

__version__ = "0.1.0"
