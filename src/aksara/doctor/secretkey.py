"""How strong a secret key is, judged without ever revealing any part of it.

Why separate: the rules (length, known placeholders, placeholder phrases anywhere in
the key, keyboard runs and character sequences, low entropy, repetition, low
compressibility) are a pure function the fuzz and diagnostics suites can hammer, and
the verdict messages are written here once, none of them quoting the key.

Every threshold leaves a wide margin for real random keys: a
``secrets.token_urlsafe(48)`` or ``secrets.token_hex(16)`` trips none of them except
with a probability far below one in a million.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
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
#: Words that mark a key as a placeholder wherever they appear in it (compared
#: lower-case without separators; at least six letters, so random keys do not hit them).
PLACEHOLDER_PHRASES: tuple[str, ...] = (
    "changeme", "change", "replace", "secret", "password", "passwd", "placeholder",
    "example", "insecure", "default", "sample", "letmein", "qwerty",
    "production", "development", "notsecure",
)
#: Keyboard rows (US layout): neighbours on a row count as a run, like ``abc``/``123``.
KEYBOARD_ROWS: tuple[str, ...] = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
#: A run (keyboard neighbours or consecutive characters) at least this long fails.
MAX_RUN = 8
#: Runs of at least ``_RUN_COUNTED`` characters may cover at most this share of the key.
MAX_RUN_SHARE = 0.5
_RUN_COUNTED = 4
#: Deflate output (fixed codes, so only repetition counts) below this share of the key's
#: length means the key repeats itself (random keys stay above 0.9).
MIN_COMPRESSED_SHARE = 0.8
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


def _step(a: str, b: str) -> int:
    """+1/-1 when ``b`` follows/precedes ``a`` in a sequence (``a``→``b``, ``3``→``2``)
    or on a keyboard row (``q``→``w``); 0 otherwise."""
    a, b = a.lower(), b.lower()
    if abs(ord(b) - ord(a)) == 1:
        return ord(b) - ord(a)
    for row in KEYBOARD_ROWS:
        if a in row and b in row and abs(row.index(b) - row.index(a)) == 1:
            return row.index(b) - row.index(a)
    return 0


def _runs(key: str) -> list[int]:
    """Lengths of the maximal runs going one way (``abcd``, ``4321``, ``qwer``);
    a back-and-forth like ``1212`` is not a run."""
    runs, length, direction = [], 1, 0
    for a, b in itertools.pairwise(key):
        step = _step(a, b)
        if step and (length == 1 or step == direction):
            length, direction = length + 1, step
        else:
            runs.append(length)
            length, direction = (2, step) if step else (1, 0)
    runs.append(length)
    return runs


def _compressed_share(key: str) -> float:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_FIXED)
    data = key.encode("utf-8", "surrogatepass")
    return len(packer.compress(data) + packer.flush()) / len(data)


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
    if any(phrase in _normalise(key) for phrase in PLACEHOLDER_PHRASES):
        return "AKSARA_SECRET_KEY contains a placeholder word (e.g. 'change', 'secret')"
    runs = _runs(key)
    in_runs = sum(r for r in runs if r >= _RUN_COUNTED)
    if max(runs) >= MAX_RUN or in_runs >= MAX_RUN_SHARE * len(key):
        return "AKSARA_SECRET_KEY is made of keyboard runs or character sequences"
    if _compressed_share(key) < MIN_COMPRESSED_SHARE:
        return "AKSARA_SECRET_KEY repeats itself (it compresses well; random keys do not)"
    return None
