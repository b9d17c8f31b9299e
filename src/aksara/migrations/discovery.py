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
#: ASCII only: no sign, no other script's digits (``+1_x.sql`` and Arabic-Indic digits are refused).
FILENAME_PATTERN = re.compile(
    r"^(?P<version>[0-9]+)_(?P<description>[A-Za-z0-9][A-Za-z0-9_-]*)\.sql$", re.ASCII
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
    #: The file actually read (the checked target of a symlink) and its (device, inode).
    source: Path | None = None
    identity: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """The file name, as shown in every message and JSON document."""
        return self.path.name

    def read_sql(self) -> str:
        """Read the file again for execution, refusing it if it changed since discovery."""
        data = read_checked(self.name, self.source or self.path, self.identity)
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
    """Return the real file to read for ``entry``, rejecting escaping and broken symlinks."""
    path = directory / entry.name
    if not entry.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidMigrations(f"{entry.name}: is a broken symlink") from None
    if not target.is_relative_to(root):
        raise InvalidMigrations(f"{entry.name}: is a symlink that escapes the migrations directory")
    return target


def read_checked(name: str, target: Path, identity: tuple[int, int] | None = None) -> bytes:
    """Read ``target`` without following a symlink swapped in after it was checked.

    Why: checking a path and then opening it again is a race (the checked file could be
    replaced by a symlink to anything). The file is opened with ``O_NOFOLLOW`` (and
    ``O_NONBLOCK``, so a FIFO cannot hang discovery), and what was opened is compared
    with what was checked: a regular file, and the same (device, inode) as the checked
    target (``identity``, or a fresh ``lstat`` of it).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        expected = identity
        if expected is None:
            checked = os.lstat(target)
            expected = (checked.st_dev, checked.st_ino)
        fd = os.open(target, flags)
    except OSError as exc:
        raise InvalidMigrations(
            f"{name}: cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise InvalidMigrations(f"{name}: is not a regular file")
        if (opened.st_dev, opened.st_ino) != expected:
            raise InvalidMigrations(
                f"{name}: was replaced while aksara was reading the migrations directory; re-run"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidMigrations(
            f"{name}: cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None
    finally:
        os.close(fd)


def _lstat(name: str, path: Path) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as exc:
        raise InvalidMigrations(
            f"{name}: cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None


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
        checked = _lstat(entry.name, file_path)
        if not stat.S_ISREG(checked.st_mode):
            raise InvalidMigrations(f"{entry.name}: is not a regular file")
        identity = (checked.st_dev, checked.st_ino)
        data = read_checked(entry.name, file_path, identity)
        transactional = _check_content(entry.name, data)
        found.append(
            MigrationFile(
                version=version,
                description=description,
                path=path / entry.name,
                checksum=checksum_bytes(data),
                transactional=transactional,
                source=file_path,
                identity=identity,
            )
        )
        del data
    found.sort(key=lambda m: m.version)
    return found
