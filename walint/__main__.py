"""Entry point for ``python -m walint``."""

from walint.cli import main

if __name__ == "__main__":
    main()
