"""Finding migration files and refusing bad ones before the database is touched.

Why so strict: a migration engine pointed at production must never guess. A file it
cannot name, read or order is an error that names the file, raised before any
connection is opened. Discovery hashes each file but keeps no contents, so memory stays
flat however many migrations there are; :meth:`MigrationFile.read_sql` reads one file
when it is about to run.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from aksara.errors import UsageError
from aksara.migrations.checksum import checksum_bytes, normalise_newlines
from aksara.migrations.errors import InvalidMigrations

#: ``<integer version>_<description>.sql``; the description is letters, digits, ``_`` and ``-``.
FILENAME_PATTERN = re.compile(
    r"^(?P<version>[0-9]+)_(?P<description>[A-Za-z0-9][A-Za-z0-9_-]*)\.sql$"
)
#: The first-line directive that runs a file outside a transaction.
NO_TRANSACTION_DIRECTIVE = "-- aksara:no-transaction"
#: Every first line starting with this prefix must be a known directive (typos are errors).
DIRECTIVE_PREFIX = "-- aksara:"
#: Versions are stored as PostgreSQL ``bigint``.
MAX_VERSION = 2**63 - 1
_BOM = "\ufeff"


@dataclass(frozen=True)
class MigrationFile:
    """One validated migration file: its identity and checksum, never its contents."""

    version: int
    description: str
    path: Path
    checksum: str
    transactional: bool

    @property
    def name(self) -> str:
        """The file name, as shown in every message and JSON document."""
        return self.path.name

    def read_sql(self) -> str:
        """Read the file again for execution, refusing it if it changed since discovery."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise InvalidMigrations(
                f"{self.name}: cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        if checksum_bytes(data) != self.checksum:
            raise InvalidMigrations(f"{self.name}: changed while aksara was running; re-run")
        text = normalise_newlines(data).decode("utf-8")
        return text[1:] if text.startswith(_BOM) else text


def parse_migration_filename(name: str) -> tuple[int, str]:
    """Split ``0003_add_users.sql`` into ``(3, "add_users")`` or raise InvalidMigrations."""
    match = FILENAME_PATTERN.fullmatch(name)
    if match is None:
        raise InvalidMigrations(
            f"{name!r}: not a migration file name; expected <version>_<description>.sql "
            "(digits, '_', then letters, digits, '_' or '-')"
        )
    version = int(match.group("version"))
    if version > MAX_VERSION:
        raise InvalidMigrations(f"{name!r}: version {version} is larger than {MAX_VERSION}")
    return version, match.group("description")


def _check_content(name: str, data: bytes) -> bool:
    """Validate a file's bytes and return whether it runs in a transaction."""
    if b"\x00" in data:
        raise InvalidMigrations(f"{name}: contains a NUL byte; PostgreSQL cannot run it")
    try:
        text = normalise_newlines(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMigrations(
            f"{name}: is not valid UTF-8 (invalid byte at offset {exc.start})"
        ) from None
    if text.startswith(_BOM):
        text = text[1:]
    first, _, rest = text.partition("\n")
    transactional = True
    if first.startswith(DIRECTIVE_PREFIX):
        if first.rstrip() != NO_TRANSACTION_DIRECTIVE:
            raise InvalidMigrations(
                f"{name}: unknown directive {first.strip()!r} on line 1 "
                f"(the only directive is {NO_TRANSACTION_DIRECTIVE!r})"
            )
        transactional = False
        text = rest
    if not text.strip():
        raise InvalidMigrations(f"{name}: is empty")
    return transactional


def _resolve_entry(directory: Path, root: Path, entry: os.DirEntry[str]) -> Path:
    """Return the path to read for ``entry``, rejecting non-files and escaping symlinks."""
    path = directory / entry.name
    if entry.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise InvalidMigrations(f"{entry.name}: is a broken symlink") from None
        if not target.is_relative_to(root):
            raise InvalidMigrations(
                f"{entry.name}: is a symlink that escapes the migrations directory"
            )
        mode = target.stat().st_mode
    else:
        mode = entry.stat(follow_symlinks=False).st_mode
    if not stat.S_ISREG(mode):
        raise InvalidMigrations(f"{entry.name}: is not a regular file")
    return path


def discover_migrations(directory: str | os.PathLike[str]) -> list[MigrationFile]:
    """Validate every migration in ``directory`` and return them in version order.

    Hidden entries (names starting with ``.``, e.g. ``.gitkeep``) are ignored; every
    other entry must be a valid migration file. Raises :class:`InvalidMigrations`
    naming the first offending file, or :class:`~aksara.errors.UsageError` when the
    directory itself is missing or unreadable.
    """
    path = Path(directory)
    if not path.exists():
        raise UsageError(f"migrations directory {str(path)!r} does not exist")
    if not path.is_dir():
        raise UsageError(f"migrations path {str(path)!r} is not a directory")
    root = path.resolve()
    try:
        with os.scandir(path) as iterator:
            entries = sorted(iterator, key=lambda e: e.name)
    except OSError as exc:
        raise UsageError(
            f"cannot read migrations directory {str(path)!r}: {exc.strerror or type(exc).__name__}"
        ) from None
    found: list[MigrationFile] = []
    by_version: dict[int, str] = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        version, description = parse_migration_filename(entry.name)
        file_path = _resolve_entry(path, root, entry)
        if version in by_version:
            raise InvalidMigrations(
                f"{entry.name}: duplicate version {version} (also used by {by_version[version]})"
            )
        by_version[version] = entry.name
        try:
            data = file_path.read_bytes()
        except OSError as exc:
            raise InvalidMigrations(
                f"{entry.name}: cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        transactional = _check_content(entry.name, data)
        found.append(
            MigrationFile(
                version=version,
                description=description,
                path=file_path,
                checksum=checksum_bytes(data),
                transactional=transactional,
            )
        )
        del data
    found.sort(key=lambda m: m.version)
    return found
