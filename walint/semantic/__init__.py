"""The semantic layer: scopes, bindings and qualified names (nothing of SQLite)."""
