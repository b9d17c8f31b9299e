"""Aksara release gate: every release check as a containerized Dagger function.

Run ``dagger call release-gate export --path=./evidence --wipe`` for the whole gate, or
``dagger call <stage>`` for one check. The same stage definitions run without a
container engine through ``python ci/gate.py run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from aksara_release.main import AksaraRelease as AksaraRelease

__all__ = ["AksaraRelease"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that the host executor and the tests can use the stdlib-only
    # modules of this package (stages, versions, evidence) without dagger-io installed.
    if name == "AksaraRelease":
        from aksara_release.main import AksaraRelease

        return AksaraRelease
    raise AttributeError(name)
