"""Hypothesis profiles for the bounded fuzz suite.

``ci`` is what the release gate runs (``--hypothesis-profile=ci``): derandomized, so a
run is reproducible from the source alone, with no example database written to the
tree, a fixed number of examples and a per-example deadline. ``dev`` (loaded when no
profile was chosen) has the same bounds but explores new examples on every run.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

_BOUNDS = {
    "max_examples": 150,
    "deadline": timedelta(milliseconds=500),
    "suppress_health_check": [HealthCheck.too_slow],
}

settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_BOUNDS)
settings.register_profile("dev", database=None, **_BOUNDS)



def _current_profile() -> str:
    getter = getattr(settings, "get_current_profile_name", None)
    return str(getter()) if getter else "default"


# Only when nobody chose a profile: `pytest tests --hypothesis-profile=ci` loads `ci`
# before this (late) conftest is imported, and must not be overridden here.
if _current_profile() == "default":
    settings.load_profile(os.environ.get("AKSARA_HYPOTHESIS_PROFILE", "dev"))
