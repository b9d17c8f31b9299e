"""The ``aksara_release.pytest_origin`` plugin, run in-process by pytester: a test run
passes only when the package under test came from the installed environment's
site-packages and enough tests were collected.

``jsonschema`` stands for a package installed in site-packages (it is in the dev
environment and in the unit-tests stage's); a package directory in the test's working
tree stands for the flat-layout source tree that shadows the wheel.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
from aksara_release.pytest_origin import installed_roots, locate

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "aksara_release.pytest_origin")
TWO_TESTS = "def test_one():\n    pass\n\ndef test_two():\n    pass\n"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_sample=TWO_TESTS)
    return pytester.runpytest_inprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_package_from_site_packages_passes_and_is_recorded(pytester: pytest.Pytester) -> None:
    origin = pytester.path / "evidence" / "origin.json"
    result = _run(pytester, "--gate-import-name", "jsonschema", "--gate-origin-file",
                  str(origin), "--gate-min-tests", "2")
    assert result.ret == 0
    report = json.loads(origin.read_text())
    assert report["from_installed_wheel"] is True and report["error"] is None
    assert Path(report["origin"]).name == "__init__.py"
    assert any(Path(report["origin"]).is_relative_to(root) for root in installed_roots())
    assert (report["tests_collected"], report["min_tests"]) == (2, 2)
    assert "aksara-gate" not in result.stderr.str()


def test_package_shadowed_by_the_source_tree_fails_the_run(pytester: pytest.Pytester) -> None:
    """A flat layout: the package directory sits in the working tree, first on sys.path."""
    pytester.mkpydir("flatpkg_under_test")
    pytester.syspathinsert()
    origin = pytester.path / "origin.json"
    result = _run(pytester, "--gate-import-name", "flatpkg_under_test", "--gate-origin-file",
                  str(origin))
    assert result.ret == 1  # every test passed; the origin fails the run
    result.assert_outcomes(passed=2)
    report = json.loads(origin.read_text())
    assert report["from_installed_wheel"] is False and report["imported_by_tests"] is False
    assert report["origin"] == str(pytester.path / "flatpkg_under_test" / "__init__.py")
    site = ", ".join(report["site_packages"])
    result.stderr.fnmatch_lines([f"aksara-gate: flatpkg_under_test was imported from "
                                 f"{report['origin']}, not from the installed wheel in {site}"])


def test_package_that_does_not_import_fails_the_run(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--gate-import-name", "no_such_package_xyz")
    assert result.ret == 1
    result.stderr.fnmatch_lines([
        "aksara-gate: no_such_package_xyz was imported from ModuleNotFoundError: No module "
        "named 'no_such_package_xyz', not from the installed wheel in *"])
    report = locate("no_such_package_xyz")
    assert report["origin"] is None and report["imported_by_tests"] is False


def test_too_few_tests_collected_fails_the_run(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--gate-import-name", "jsonschema", "--gate-min-tests", "3")
    assert result.ret == 1
    result.assert_outcomes(passed=2)
    result.stderr.fnmatch_lines(["aksara-gate: 2 tests collected, the configuration requires "
                                 "at least 3"])


def test_without_an_import_name_the_plugin_stays_silent(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--gate-min-tests", "99")
    assert result.ret == 0  # the minimum is checked only alongside the origin
    assert "aksara-gate" not in result.stderr.str()


def test_locate_names_the_imported_module_and_site_packages() -> None:
    report = locate("pytest")
    assert report["imported_by_tests"] is True and report["from_installed_wheel"] is True
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert str(purelib) in report["site_packages"]
