"""The host executor of the release gate: the same stages, no container engine.

Runs every :class:`aksara_release.stages.Stage` unchanged in a fresh virtual
environment per stage, against an embedded PostgreSQL (or ``DATABASE_URL``), and
writes the same evidence layout as the Dagger module. Entry point: ``ci/gate.py``,
which bootstraps the runner environment and runs ``python -m aksara_release.host``.
"""
