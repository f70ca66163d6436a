"""The package version (one place; setuptools reads it through the package)."""

__version__ = "0.2.dev0"
