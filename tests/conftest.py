"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

from baohu_assign.solve import STRICT_ENGINES_ENV  # noqa: E402

# A fault inside an engine fails the test instead of hiding behind the greedy
# fallback (subprocesses of the CLI tests inherit it too).
os.environ[STRICT_ENGINES_ENV] = "1"

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci",
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
