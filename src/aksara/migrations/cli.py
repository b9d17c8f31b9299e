"""Placeholder: the migrations subcommands are registered here."""

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the migrations subcommands to the top-level parser."""
