"""The JSON config files of cosmo fits, in the research code's (seed's) format.

Example::

    {
      "model": "lcdm",
      "datasets": "cmb,bao",
      "optimization": {"optimize_parameters": ["H0", "Om0"], "covariance_scaling": 1.0},
      "parameter_overrides": {"Neff": 3.2}
    }

``jaxfit cosmo fit --config`` reads one with :func:`load_config`; explicit flags win over it.
"""

from __future__ import annotations

import json
from pathlib import Path

CONFIG_KEYS = {
    "optimize_parameters": list,
    "frozen_parameters": list,
    "use_precomputed": bool,
    "save_results": bool,
    "convergence_tolerance": (int, float),
    "covariance_scaling": (int, float),
    "warm_start": bool,
    "dry_run": bool,
}
"""The keys of a config's ``optimization`` object and the JSON types they take."""

TOP_KEYS = ("optimization", "parameter_overrides", "model", "datasets")
"""The top-level keys of a config."""


def load_config(path) -> dict:
    """Read and validate a JSON config in the seed's format.

    Accepted top-level keys: ``optimization`` (keys of :data:`CONFIG_KEYS`),
    ``parameter_overrides`` ({name: value}), and jaxfit's ``model`` and ``datasets``.
    ``convergence_tolerance`` becomes the optimiser's ``gtol``; ``use_precomputed`` is
    accepted for compatibility with the research configs and has no effect (jaxfit
    computes every prediction on the fly; there are no precomputed tables).

    Raises:
        ValueError: unreadable JSON, unknown keys, or values of the wrong type (the message
            names the file and the key).
    """
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"config file {path}: expected a JSON object at the top level")
    unknown = [k for k in config if k not in TOP_KEYS]
    if unknown:
        raise ValueError(f"config file {path}: unknown keys {unknown}; valid: {list(TOP_KEYS)}")
    options = config.get("optimization", {})
    if not isinstance(options, dict):
        raise ValueError(f"config file {path}: 'optimization' must be an object")
    for key, value in options.items():
        if key not in CONFIG_KEYS:
            raise ValueError(
                f"config file {path}: unknown optimization key {key!r}; valid: {list(CONFIG_KEYS)}"
            )
        if not isinstance(value, CONFIG_KEYS[key]) or (
            CONFIG_KEYS[key] is not bool and isinstance(value, bool)
        ):
            raise ValueError(f"config file {path}: optimization.{key} has the wrong type")
    overrides = config.get("parameter_overrides", {})
    if not isinstance(overrides, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in overrides.values()
    ):
        raise ValueError(f"config file {path}: parameter_overrides must map names to numbers")
    return config
