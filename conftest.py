"""Repository-level pytest configuration (doctest collection)."""

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Importing __main__ would run the command line.
collect_ignore = ["sklearn_ltdd/__main__.py"]
