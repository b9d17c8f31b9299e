"""Migration checksums: SHA-256 over the file's bytes with line endings normalised.

Why normalise: the same migration checked out on Windows (CRLF) and on Linux (LF)
must not look like drift. Everything else, including trailing whitespace and a BOM,
is part of the checksum: any other change to an applied file is drift.
"""

from __future__ import annotations

import hashlib


def normalise_newlines(data: bytes) -> bytes:
    """Turn CRLF and lone CR line endings into LF."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def checksum_bytes(data: bytes) -> str:
    """SHA-256 hex digest of ``data`` with CRLF/CR normalised to LF (64 lowercase hex)."""
    return hashlib.sha256(normalise_newlines(data)).hexdigest()
