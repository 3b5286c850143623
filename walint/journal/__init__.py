"""The journal layer: what code does to SQLite's journal mode (above walint.semantic)."""
