"""The version of genodsl (one place; the package, saved models and run folders read it)."""

__version__ = "0.1.0"
