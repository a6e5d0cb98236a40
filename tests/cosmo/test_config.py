"""Tests of jaxfit.cosmo.config: the seed's JSON config format is accepted, and every
malformed config is refused with a message naming the file and the key."""

from __future__ import annotations

import json
import re

import pytest

from jaxfit.cosmo.config import load_config

SEED_CONFIG = {
    "optimization": {
        "optimize_parameters": ["k_sat", "alpha"],
        "frozen_parameters": ["Tcmb", "Neff"],
        "use_precomputed": True,
        "save_results": True,
        "convergence_tolerance": 1e-6,
        "covariance_scaling": 1.0,
        "warm_start": True,
        "dry_run": False,
    },
    "parameter_overrides": {"H0": 70.0},
}


def test_load_config_accepts_the_seed_format(tmp_path):
    path = tmp_path / "optimization_config.json"
    path.write_text(json.dumps(SEED_CONFIG))
    assert load_config(path) == SEED_CONFIG
    extended = {**SEED_CONFIG, "model": "pbuf", "datasets": "cmb,bao"}
    path.write_text(json.dumps(extended))
    assert load_config(path) == extended


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"must be UTF-8 JSON"),
        ("[1, 2]", r"\(top level\): must be a JSON object"),
        (
            json.dumps({**SEED_CONFIG, "optimisation": {}}),
            r"\(top level\): must be only the keys .*got \['optimisation'\]",
        ),
        (
            json.dumps({"optimization": {"optimize_params": ["H0"]}}),
            r"\(optimization\.optimize_params\): must be one of the keys",
        ),
        (
            json.dumps({"optimization": {"optimize_parameters": "H0,Om0"}}),
            r"\(optimization\.optimize_parameters\): must be of JSON type list",
        ),
        (
            json.dumps({"optimization": {"dry_run": 1}}),
            r"\(optimization\.dry_run\): must be of JSON type boolean",
        ),
        (
            json.dumps({"optimization": {"covariance_scaling": True}}),
            r"\(optimization\.covariance_scaling\): must be of JSON type number",
        ),
        (json.dumps({"optimization": []}), r"\(optimization\): must be an object"),
        (
            json.dumps({"parameter_overrides": {"H0": "70"}}),
            r"\(parameter_overrides\.H0\) must be a finite number",
        ),
        (
            json.dumps({"parameter_overrides": "H0=70"}),
            r"\(parameter_overrides\): must be an object",
        ),
    ],
    ids=[
        "invalid-json",
        "not-an-object",
        "unknown-top-key",
        "unknown-optimization-key",
        "list-as-string",
        "int-as-bool",
        "bool-as-number",
        "optimization-not-object",
        "override-string-value",
        "overrides-string",
    ],
)
def test_malformed_config_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad_config.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"config file {path}") + ".*" + message):
        load_config(path)


def test_missing_config_file_is_named(tmp_path):
    path = tmp_path / "nowhere.json"
    expected = re.escape(f"config file (--config) not found: {path}")
    with pytest.raises(FileNotFoundError, match=expected):
        load_config(path)
