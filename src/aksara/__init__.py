"""Aksara: an async PostgreSQL framework for Python.

This distribution ships the migration engine (``aksara migrate``, ``aksara status``)
and production diagnostics (``aksara doctor``, ``aksara doctor production-check``).
"""

__version__ = "0.8.0"

__all__ = ["__version__"]
