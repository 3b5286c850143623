"""Control flow inside one function: which paths run after a failed WAL attempt."""
