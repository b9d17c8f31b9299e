"""How strong a secret key is, judged without ever revealing any part of it.

Why separate: the rules (length, known placeholders, low entropy, repetition) are a
pure function the fuzz and diagnostics suites can hammer, and the verdict messages
are written here once, none of them quoting the key.
"""

from __future__ import annotations

import math
import re
from collections import Counter

#: Minimum length of an acceptable key.
MIN_LENGTH = 32
#: Minimum number of distinct characters.
MIN_DISTINCT = 8
#: Minimum Shannon entropy per character, in bits (a random hex key has about 3.7).
MIN_BITS_PER_CHAR = 3.0
#: The example key shown in docs/doctor.md; rejected like every other placeholder.
DOCS_EXAMPLE_KEY = "replace-me-with-the-output-of-secrets-token-urlsafe"
#: Keys (compared lower-case, without separators) that are known placeholders.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "changeme", "changethis", "changeit", "secret", "secretkey", "mysecretkey",
        "yoursecretkey", "supersecret", "supersecretkey", "password", "default",
        "insecure", "replaceme", "todo", "xxx", "test", "testing", "dev", "development",
        "example", "notsecret", "dontuseinproduction",
        re.sub(r"[^a-z0-9]", "", DOCS_EXAMPLE_KEY),
    }
)
#: Prefixes of well-known generated-but-public development keys.
PLACEHOLDER_PREFIXES: tuple[str, ...] = ("django-insecure-", "changeme", "change-me", "replace-me")


def _normalise(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _bits_per_char(key: str) -> float:
    counts = Counter(key)
    total = len(key)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _is_periodic(key: str) -> bool:
    """True when the key is a short unit repeated (``abcabcabc...``)."""
    length = len(key)
    for period in range(1, length // 2 + 1):
        if key == (key[:period] * (length // period + 1))[:length]:
            return True
    return False


def weakness(key: str | None) -> str | None:
    """Why ``key`` is unacceptable, or ``None`` when it is strong enough.

    The message describes the problem and never includes the key or any part of it
    (not its first characters, not its length when it is too short).
    """
    if key is None:
        return "AKSARA_SECRET_KEY is not set"
    if not key.strip():
        return "AKSARA_SECRET_KEY is set but empty"
    lowered = key.strip().lower()
    if _normalise(key) in PLACEHOLDERS or lowered.startswith(PLACEHOLDER_PREFIXES):
        return "AKSARA_SECRET_KEY is a known placeholder value"
    if len(key) < MIN_LENGTH:
        return f"AKSARA_SECRET_KEY is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_DISTINCT or _bits_per_char(key) < MIN_BITS_PER_CHAR:
        return "AKSARA_SECRET_KEY has too little entropy (too few distinct characters)"
    if _is_periodic(key):
        return "AKSARA_SECRET_KEY is a short pattern repeated"
    return None
