"""Settings for every test, applied before any test module imports jaxfit.

The persistent compilation cache is on by default in the user's cache folder; tests use a
temporary folder instead, one per pytest-xdist worker and test run (so workers never race
on one folder and a test run never writes the user's cache), removed when the run ends.
``JAXFIT_COMPILE_CACHE=0`` in the environment keeps the cache off for the tests.
"""

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ENV_VAR = "JAXFIT_COMPILE_CACHE"  # not imported: importing jaxfit would read it too early
OFF_VALUES = {"", "0", "off", "false", "no", "none", "disable", "disabled"}


def _test_cache_folder() -> Path:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return Path(tempfile.gettempdir()) / f"jaxfit-test-cache-{worker}-{run[:12]}"


TEST_CACHE = None
if os.environ.get(ENV_VAR, "on").strip().lower() not in OFF_VALUES:
    TEST_CACHE = _test_cache_folder()
    os.environ[ENV_VAR] = str(TEST_CACHE)
    if "jaxfit" in sys.modules:  # imported by a plugin first: apply the test folder now
        from jaxfit.core.compile_cache import enable_compile_cache

        enable_compile_cache()


def pytest_sessionfinish(session, exitstatus):
    if TEST_CACHE is not None:
        shutil.rmtree(TEST_CACHE, ignore_errors=True)
