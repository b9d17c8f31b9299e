"""The faults the self-tests plant, one function each, written against the fixed
interfaces only (the CLI, ``aksara.migrations.checksum.checksum_bytes``, the stage
definitions), so they keep working while the code behind them changes."""

from __future__ import annotations

import re
from pathlib import Path

MARK = "gate_fault"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def failing_unit_test(repo: Path) -> str:
    _write(repo / "tests" / "unit" / f"test_{MARK}_unit.py",
           "import aksara\n\n\n"
           f"def test_{MARK}_unit() -> None:\n"
           "    assert aksara.__version__ == 'planted-mismatch'\n")
    return f"test_{MARK}_unit"


def failing_security_test(repo: Path) -> str:
    _write(repo / "tests" / "security" / f"test_{MARK}_security.py",
           "from aksara.dburl import redact_url\n\n\n"
           f"def test_{MARK}_security() -> None:\n"
           "    url = 'postgresql://app:' + 'pw' + 'x' * 12 + '@db.invalid/app'\n"
           "    assert redact_url(url) == url  # planted: demands the password be shown\n")
    return f"test_{MARK}_security"


def failing_diagnostics_test(repo: Path) -> str:
    _write(repo / "tests" / "diagnostics" / f"test_{MARK}_diagnostics.py",
           "from aksara.cli import main\n\n\n"
           f"def test_{MARK}_diagnostics(monkeypatch) -> None:\n"
           "    monkeypatch.setenv('AKSARA_ENV', 'production')\n"
           "    monkeypatch.setenv('AKSARA_DEBUG', 'true')\n"
           "    assert main(['doctor', 'production-check', '--format', 'json']) == 0\n")
    return f"test_{MARK}_diagnostics"


def broken_fuzz_property(repo: Path) -> str:
    """A property that cannot hold: redaction would have to keep the password."""
    _write(repo / "tests" / "security" / "fuzz" / f"test_{MARK}_fuzz.py",
           "from hypothesis import given\nfrom hypothesis import strategies as st\n\n"
           "from aksara.dburl import redact_url\n\n\n"
           "@given(st.text(alphabet='abcdefghijklmnop', min_size=8, max_size=20))\n"
           f"def test_{MARK}_fuzz(password: str) -> None:\n"
           "    url = f'postgresql://app:{password}@db.invalid/app'\n"
           "    assert password in redact_url(url)\n")
    return f"test_{MARK}_fuzz"


def failing_migration_test(repo: Path) -> str:
    """A migration that cannot run inside a transaction, demanded to apply cleanly."""
    _write(repo / "tests" / "migrations" / f"test_{MARK}_migration.py",
           "import pytest\n\nfrom aksara.cli import main\n\n\n"
           "@pytest.mark.db\n"
           f"def test_{MARK}_migration(tmp_path, database_url) -> None:\n"
           "    (tmp_path / '1_t.sql').write_text('CREATE TABLE t (id int);\\n')\n"
           "    sql = 'CREATE INDEX CONCURRENTLY t_i ON t (id);\\n'\n"
           "    (tmp_path / '2_idx.sql').write_text(sql)\n"
           "    assert main(['migrate', '--migrations-dir', str(tmp_path),\n"
           "                 '--database-url', database_url]) == 0\n")
    return f"test_{MARK}_migration"


def coverage_floor_above_measured(repo: Path) -> str:
    """The unit-tests stage demands every branch of the wheel covered (issue 15): the
    measured branch coverage is below that, so the coverage check fails."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = re.sub(r'(\ncoverage = \{ packages = \["aksara"\].*?branches = )\d+', r"\g<1>100", text)
    assert new != text, "the unit-tests stage no longer sets a coverage floor"
    path.write_text(new)
    return "coverage: below-floor aksara: branches "


def checksum_ignores_content(repo: Path) -> str:
    """Tampering goes unnoticed: every file gets the same checksum."""
    path = repo / "src" / "aksara" / "migrations" / "checksum.py"
    path.write_text(path.read_text() + (
        "\n\nimport hashlib as _planted_hashlib  # noqa: E402\n\n\n"
        "def checksum_bytes(data: bytes) -> str:  # noqa: F811 - planted gate fault\n"
        "    return _planted_hashlib.sha256(b'').hexdigest()\n"
    ))
    return "reported checksum differs"


def unsafe_production_setting(repo: Path) -> str:
    """The gate's production configuration turns insecure cookies on."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = text.replace('AKSARA_COOKIE_SECURE = "true"', 'AKSARA_COOKIE_SECURE = "false"')
    assert new != text, "the doctor env table no longer sets AKSARA_COOKIE_SECURE"
    path.write_text(new)
    return "cookies.secure"


def broken_docs_link(repo: Path) -> str:
    page = repo / "docs" / "index.md"
    page.write_text(page.read_text() + f"\n\nSee [the missing page]({MARK}-missing.md).\n")
    return f"{MARK}-missing.md"


def bandit_high_finding(repo: Path) -> str:
    _write(repo / "src" / "aksara" / f"_{MARK}_shell.py",
           '"""Planted: a shell command built from input (bandit B602, high)."""\n\n'
           "import subprocess\n\n\n"
           "def run(command: str) -> int:\n"
           "    return subprocess.call(command, shell=True)  # noqa: S602\n")
    return "B602"


def cloud_key(repo: Path) -> str:
    key = "AKIA" + "IOSFODNN7" + "PLANTED"  # assembled: this file holds no key literal
    _write(repo / "src" / "aksara" / f"_{MARK}_key.py",
           f'"""Planted credential."""\n\nAWS_ACCESS_KEY_ID = "{key}"\n')
    return f"_{MARK}_key.py"


def broken_pyproject(repo: Path) -> str:
    path = repo / "pyproject.toml"
    path.write_text(path.read_text().replace("[project]", "[project\n", 1))
    return "pyproject.toml"


def bad_dependency_specifier(repo: Path) -> str:
    """A typo in a dependency specifier: the build backend rejects the metadata."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = text.replace('"pglast>=8.8,<9"', '"pglast>=>8.8,<9"', 1)
    assert new != text, "the pglast dependency changed"
    path.write_text(new)
    return "pglast>=>8.8,<9"


def readme_twine_rejects(repo: Path) -> str:
    """Declare the README as reStructuredText and give it markup that does not render."""
    readme_declared_rst(repo)
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\n\n.. planted-unknown-directive::\n\n`unclosed\n")
    return "planted-unknown-directive"


def wheel_missing_module(repo: Path) -> str:
    """A module the package imports is left out of the wheel."""
    pkg = repo / "src" / "aksara"
    _write(pkg / f"_{MARK}_helper.py", '"""Planted: excluded from the wheel."""\n\nVALUE = 1\n')
    _write(pkg / f"_{MARK}_user.py",
           f'"""Planted: imports a module the wheel lacks."""\n\nfrom aksara._{MARK}_helper '
           "import VALUE\n\n__all__ = ['VALUE']\n")
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = text.replace('packages = ["src/aksara"]',
                       f'packages = ["src/aksara"]\nexclude = ["src/aksara/_{MARK}_helper.py"]', 1)
    assert new != text
    path.write_text(new)
    return f"_{MARK}_helper"


def sbom_before_install(repo: Path) -> str:
    """The SBOM is generated from the target environment before the wheel is installed."""
    path = repo / "ci" / "src" / "aksara_release" / "stages.py"
    text = path.read_text()
    start = text.index('name="sbom"')
    head, tail = text[:start], text[start:]
    env = "                *_wheel_only_env(),\n"
    assert env in tail, "sbom stage no longer builds its wheel-only environment"
    # Keep the venv and the resolved set first, but install the wheel after the SBOM.
    tail = tail.replace(env, "                *_wheel_only_env()[:2],\n", 1)
    end = '            ),\n            evidence=("sbom.cdx.json"'
    assert end in tail, "sbom stage steps no longer end before its evidence"
    tail = tail.replace(end, "                _wheel_only_env()[2],\n" + end, 1)
    path.write_text(head + tail)
    return "the package itself"


#: Rewrites every hash of one distribution in the resolved set (the last hex digit).
TAMPER_HASHES = (
    "\n\ndef _planted_tamper(text: str) -> str:\n"
    "    import re\n"
    "    def bad(entry: re.Match[str]) -> str:\n"
    "        return re.sub(r'(--hash=sha256:[0-9a-f]{63})([0-9a-f])', lambda h: h.group(1)\n"
    "                      + ('0' if h.group(2) != '0' else '1'), entry.group(0))\n"
    "    return re.sub(r'(?ms)^pglast==.*?(?=^\\S|\\Z)', bad, text)\n"
)


def wheel_env_tampered(repo: Path) -> str:
    """package-build writes a wheel-env.txt whose hashes of pglast are wrong: both stages
    installing from it (dependency-audit, sbom) must fail, naming pglast."""
    path = repo / "ci" / "src" / "aksara_release" / "wheelenv.py"
    text = path.read_text()
    old = "    pinned = check_resolution(done.stdout, package)\n"
    assert old in text, "wheelenv.resolve no longer checks uv's output"
    new = old + "    done.stdout = _planted_tamper(done.stdout)\n"
    main = '\n\nif __name__ == "__main__":'
    assert main in text, "wheelenv.py no longer ends with its __main__ block"
    path.write_text(text.replace(old, new, 1).replace(main, TAMPER_HASHES + main, 1))
    return "wheel-env: hash-mismatch pglast=="


# ----------------------------------------------------------------------------- one tool each
def ruff_finding(repo: Path) -> str:
    """An unused import: ruff's finding only (bandit, mypy and zizmor accept it)."""
    _write(repo / "src" / "aksara" / f"_{MARK}_ruff.py",
           '"""Planted: an unused import (ruff F401)."""\n\nimport os\n')
    return f"F401 src/aksara/_{MARK}_ruff.py:3"


def mypy_error(repo: Path) -> str:
    """A wrong return type: mypy's finding only (ruff and bandit do not type-check)."""
    _write(repo / "src" / "aksara" / f"_{MARK}_mypy.py",
           '"""Planted: a type error (mypy return-value)."""\n\n\n'
           "def answer() -> int:\n    return str(42)\n")
    return f"return-value src/aksara/_{MARK}_mypy.py:5"


def zizmor_template_injection(repo: Path) -> str:
    """A workflow expanding an attacker-controlled comment in a shell: zizmor's only.

    zizmor's SARIF mode exits 0 with this finding; only the report shows it."""
    _write(repo / ".github" / "workflows" / f"{MARK}.yml",
           "name: planted\non: issue_comment\npermissions: {}\njobs:\n  echo:\n"
           "    runs-on: ubuntu-latest\n    steps:\n"
           '      - run: echo "${{ github.event.comment.body }}"\n')
    return "template-injection"


# ----------------------------------------------------------------------------- looked at nothing
def empty_test_suite(repo: Path) -> str:
    """The fuzz suite points at a directory without tests: pytest collects nothing."""
    (repo / "tests" / f"{MARK}_empty").mkdir(parents=True)
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = text.replace('paths = ["tests/security/fuzz"]', f'paths = ["tests/{MARK}_empty"]', 1)
    assert new != text, "the fuzz-tests table no longer names tests/security/fuzz"
    path.write_text(new)
    return "examined 0 tests run"


def audit_without_dependencies(repo: Path) -> str:
    """The audit's wheel-only environment leaves out the resolved set (the wheel alone,
    installed ``--no-deps``): its runtime dependencies are not there to describe."""
    path = repo / "ci" / "src" / "aksara_release" / "stages.py"
    text = path.read_text()
    start = text.index("def _audit_stage(")
    head, tail = text[:start], text[start:]
    env = "            *_wheel_only_env(),\n"
    assert env in tail, "the audit stage no longer builds its wheel-only environment"
    tail = tail.replace(env, "            _wheel_only_env()[0], _wheel_only_env()[2],\n", 1)
    path.write_text(head + tail)
    return "(required by aksara-framework) is not installed in the target environment"


def analyser_missing_directory(repo: Path) -> str:
    """bandit is pointed at a directory that does not exist (it exits 0 on that)."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = text.replace('targets = ["src", "ci/src"]', f'targets = ["{MARK}_missing", "ci/src"]')
    assert new != text, "the bandit table no longer targets src and ci/src"
    path.write_text(new)
    return f"tool error: {MARK}_missing: No such file or directory"


STRIP_COMPONENT = (
    "import json, sys; p = sys.argv[1]; d = json.load(open(p)); "
    "d['components'] = [c for c in d['components'] "
    "if c['name'].lower().replace('_', '-') != 'typing-extensions']; "
    "json.dump(d, open(p, 'w'))"
)


def sbom_missing_transitive(repo: Path) -> str:
    """The SBOM leaves out a transitive dependency (typing-extensions, via psycopg)."""
    path = repo / "ci" / "src" / "aksara_release" / "stages.py"
    text = path.read_text()
    old = ('                    ("cyclonedx-py", "environment", "--output-reproducible",\n'
           '                     "--output-format", "JSON", "--output-file", '
           '"{out}/sbom.cdx.json",\n'
           '                     "{work}/target/bin/python"),\n')
    assert old in text, "the sbom stage's cyclonedx-py command changed"
    script = ("cyclonedx-py environment --output-reproducible --output-format JSON "
              "--output-file {out}/sbom.cdx.json {work}/target/bin/python && "
              f"python -c \"{STRIP_COMPONENT}\" {{out}}/sbom.cdx.json")
    new = f"                    (\"sh\", \"-c\", {script!r}),  # noqa: E501\n"
    path.write_text(text.replace(old, new))
    return "missing-component typing-extensions=="


def readme_declared_rst(repo: Path) -> str:
    """The Markdown README is declared reStructuredText (twine may still accept it)."""
    path = repo / "pyproject.toml"
    text = path.read_text()
    new = re.sub(r'^readme = .*$', 'readme = {file = "README.md", content-type = "text/x-rst"}',
                 text, count=1, flags=re.M)
    assert new != text
    path.write_text(new)
    return "Description-Content-Type is text/x-rst, but the readme README.md is text/markdown"
