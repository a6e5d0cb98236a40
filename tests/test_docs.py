"""The documentation site builds with no warnings: `mkdocs build --strict` (mkdocs.yml).

A broken cross-reference (`[name][jaxfit.x.y]`), a docstring mkdocstrings cannot parse, a
missing page or a snippet file that moved fails the build, and so this test. Skipped cleanly
where the docs tools are not installed (`pip install -e ".[docs]"`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="docs tools not installed: pip install -e '.[docs]'")
pytest.importorskip("material", reason="mkdocs-material not installed")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] not installed")


def test_docs_build_strict(tmp_path):
    # reference: mkdocs' own strict mode; the expected result is exit 0 and no WARNING line
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-4000:]}"
    assert "WARNING" not in log, log[-4000:]
    for page in ("index.html", "core/index.html", "cosmo/index.html", "gravity/index.html",
                 "leptons/index.html", "lensing/index.html", "benchmarks/index.html",
                 "architecture/index.html", "errors/index.html", "getting-started/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    core = (tmp_path / "site" / "core" / "index.html").read_text(encoding="utf-8")
    assert 'id="jaxfit.core.optimize.minimize"' in core  # the API reference was generated
