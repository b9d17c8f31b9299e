"""Shared vectors for the source ``Ignore`` rules of both executors.

The engine filters a ``DefaultPath`` directory with moby's patternmatcher; the host
snapshot (``host/snapshot.py``) must leave out exactly the same paths. ``RULES`` pins
the matcher semantics themselves (root anchoring, ``*`` vs ``**``, parent matches,
last match wins, ``!``); ``SOURCE`` pins what ``versions.SOURCE_IGNORE`` means for
paths of a real checkout. A path is ignored when it or one of its parent directories
matches (the engine's file walker skips an excluded directory whole, as
``MatchesOrParentMatches`` does). Both lists were cross-checked once against docker-py's
port of the patternmatcher (``docker.utils.build.PatternMatcher``, applied to the path
and each parent; not a dependency of this project): no disagreement.
"""

from __future__ import annotations

#: (patterns, path, ignored)
RULES: list[tuple[list[str], str, bool]] = [
    (["dist"], "dist", True),
    (["dist"], "dist/a.whl", True),
    (["dist"], "docs/dist", False),  # root-anchored: not gitignore's "any depth"
    (["**/dist"], "dist", True),
    (["**/dist"], "a/b/dist/x.txt", True),
    (["*.pyc"], "a/b.pyc", False),
    (["**/*.pyc"], "a/b.pyc", True),
    (["a/*"], "a/b/c", True),  # a parent matches
    (["a/*/c"], "a/b/d/c", False),  # "*" never crosses "/"
    (["a/**/c"], "a/b/d/c", True),
    (["a/**/c"], "a/c", True),
    (["a?c"], "abc", True),
    (["a?c"], "a/c", False),
    (["/dist"], "dist", True),
    (["dist/"], "dist/x", True),
    (["a", "!a/keep"], "a/keep", False),  # the last matching pattern wins
    (["a", "!a/keep"], "a/other", True),
    (["!a", "a"], "a", True),
    (["a.b"], "axb", False),  # "." is literal
]

#: (path of a checkout, ignored by versions.SOURCE_IGNORE)
SOURCE: list[tuple[str, bool]] = [
    (".git/config", True),
    ("vendor/lib/.git/HEAD", True),
    (".venv/bin/python", True),
    ("ci/.venv/bin/python", True),
    (".gate/dev/bin/python", True),
    ("ci/sdk/pyproject.toml", True),
    ("benchmarks/.work/run.log", True),
    ("dist/aksara_framework-0.8.0.tar.gz", True),
    ("build/lib/aksara/__init__.py", True),
    ("site/index.html", True),
    ("evidence/summary.json", True),
    ("src/aksara/__pycache__/cli.cpython-312.pyc", True),
    ("stray.pyc", True),
    ("src/aksara_framework.egg-info/PKG-INFO", True),
    ("tests/.pytest_cache/v/cache", True),
    (".mypy_cache/3.12/x.json", True),
    ("src/.ruff_cache/x", True),
    (".hypothesis/examples/x", True),
    (".env", True),
    ("examples/app/.env", True),
    (".env.production", True),
    ("deploy/.env.local", True),
    # kept: root-anchored names deeper down, look-alikes, the gate's own code
    ("src/aksara/build/__init__.py", False),
    ("docs/dist/notes.md", False),
    ("docs/evidence.md", False),
    ("src/aksara/env.py", False),
    ("ci/src/aksara_release/main.py", False),
    ("ci/pyproject.toml", False),
    ("tests/fixtures/smoke_migrations/0001_init.sql", False),
    (".github/workflows/release-gate.yml", False),
    ("README.md", False),
]
