"""Properties of the migration file-name parser and checksum normalisation."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from aksara.migrations import InvalidMigrations
from aksara.migrations.checksum import checksum_bytes
from aksara.migrations.discovery import MAX_VERSION, parse_migration_filename

DESCRIPTION = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,40}\Z")


@given(version=st.integers(min_value=0, max_value=MAX_VERSION), description=DESCRIPTION,
       width=st.integers(min_value=0, max_value=6))
def test_valid_names_round_trip(version: int, description: str, width: int) -> None:
    name = f"{version:0{width}d}_{description}.sql"
    assert parse_migration_filename(name) == (version, description)


@given(st.text(max_size=80))
def test_arbitrary_names_parse_or_raise_invalid_migrations(name: str) -> None:
    try:
        version, description = parse_migration_filename(name)
    except InvalidMigrations as exc:
        assert "\n" not in str(exc)  # the name is quoted with repr(): one line always
        return
    assert 0 <= version <= MAX_VERSION
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", description)
    assert name.endswith(".sql") and "/" not in name and "\x00" not in name


@given(st.text(alphabet=st.characters(categories=["P", "S", "Zs", "Cc"]), min_size=1,
               max_size=10), DESCRIPTION)
def test_metacharacters_in_the_description_are_rejected(meta: str, description: str) -> None:
    name = f"1_{description}{meta}x.sql"
    if re.fullmatch(r"[A-Za-z0-9_-]*", meta):
        return
    try:
        parse_migration_filename(name)
    except InvalidMigrations:
        return
    raise AssertionError(f"{name!r} was accepted")


@given(st.binary(max_size=2048))
def test_checksum_is_sha256_of_lf_normalised_bytes(data: bytes) -> None:
    digest = checksum_bytes(data)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    normalised = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert digest == hashlib.sha256(normalised).hexdigest()
    assert checksum_bytes(normalised) == digest


@given(st.lists(st.binary(max_size=64).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
                max_size=30),
       st.sampled_from([b"\n", b"\r\n", b"\r"]), st.booleans())
def test_crlf_cr_and_lf_checkouts_have_one_checksum(lines: list[bytes], eol: bytes,
                                                    trailing: bool) -> None:
    lf = b"\n".join(lines) + (b"\n" if trailing else b"")
    other = eol.join(lines) + (eol if trailing else b"")
    assert checksum_bytes(other) == checksum_bytes(lf)


@given(st.binary(min_size=1, max_size=512), st.integers(min_value=0, max_value=511),
       st.binary(min_size=1, max_size=1).filter(lambda b: b not in (b"\r", b"\n")))
def test_any_other_byte_change_changes_the_checksum(data: bytes, at: int, byte: bytes) -> None:
    at %= len(data)
    changed = data[:at] + byte + data[at:]
    assert checksum_bytes(changed) != checksum_bytes(data)
