"""Placeholder: the doctor subcommands are registered here."""

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add the doctor subcommands to the top-level parser."""
