"""``python -m theorylib verify [chapter]``: run every registered claim and print the table."""
import sys

from .claims import main

if __name__ == "__main__":
    sys.exit(main())
