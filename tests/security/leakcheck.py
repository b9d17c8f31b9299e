"""Planting distinctive secrets and proving they never leak, whole or in part.

Secrets are generated at run time (no credential-shaped literal in the source tree, so
the secret scan stays meaningful) with a readable marker, so a leak is unmistakable.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote

#: Marks every planted secret, so a leak is unmistakable in a failure message.
MARKER = "PLANTED"

#: The readable prefixes of planted secrets ("PLANTED-key-"); windows inside them are
#: ordinary words ("malforme") and are not evidence of a leak.
_PREFIXES: set[str] = set()


def fragments(secret: str, width: int = 8) -> set[str]:
    """Every ``width``-character window of ``secret``: finding any of them in output is a
    partial leak (``secret[:4]``-style hints included, for secrets of 8+ characters)."""
    if len(secret) <= width:
        return {secret}
    windows = {secret[i:i + width] for i in range(len(secret) - width + 1)}
    return {w for w in windows if not any(w in prefix for prefix in _PREFIXES)}


def encodings(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1],
            repr(secret)[1:-1]}


def assert_no_leak(text: str, *planted: str) -> None:
    """Fail when ``text`` holds any planted secret, in any encoding or any 8-char part."""
    for secret in planted:
        for form in encodings(secret):
            for piece in fragments(form):
                assert piece not in text, f"secret fragment {piece!r} leaked"


def planted_secret(label: str) -> str:
    """A distinctive, strong secret: marker, label and 32 random URL-safe characters."""
    prefix = f"{MARKER}-{label}-"
    _PREFIXES.add(prefix)
    return prefix + secrets.token_urlsafe(24)
