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

from jaxfit.core import checks

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
    ``parameter_overrides`` ({name: finite number}), and jaxfit's ``model`` (a string) and
    ``datasets`` (a string such as ``"cmb,bao"`` or a list of strings).
    ``convergence_tolerance`` becomes the optimiser's ``gtol`` (finite, >= 0) and
    ``covariance_scaling`` scales the CMB covariance (finite, > 0); ``use_precomputed`` is
    accepted for compatibility with the research configs and has no effect (jaxfit
    computes every prediction on the fly; there are no precomputed tables). Parameter names
    and bounds are the model's and are checked where the model is known
    (``jaxfit cosmo fit``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder, unreadable or invalid JSON, unknown keys, or values of the
            wrong type or range; the message names the file and the key::

                config file <path> (<key>): <what was expected>, got <value>
    """
    path = checks.existing_file(path, "config file (--config)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"config file {path}: must be UTF-8 JSON ({err})") from None
    except OSError as err:  # e.g. unreadable: the input, not the run, is at fault
        raise ValueError(f"config file {path}: cannot be read ({err.strerror})") from None

    def bad(key: str, expected: str, value) -> ValueError:
        return ValueError(f"config file {path} ({key}): must be {expected}, got {value!r}")

    if not isinstance(config, dict):
        raise bad("top level", "a JSON object", config)
    unknown = [k for k in config if k not in TOP_KEYS]
    if unknown:
        raise bad("top level", f"only the keys {list(TOP_KEYS)}", unknown)
    if "model" in config and not isinstance(config["model"], str):
        raise bad("model", "a model name (a string)", config["model"])
    datasets = config.get("datasets", "")
    if not (isinstance(datasets, str) or (
            isinstance(datasets, list) and all(isinstance(d, str) for d in datasets))):
        raise bad("datasets", "a string like 'cmb,bao' or a list of strings", datasets)
    options = config.get("optimization", {})
    if not isinstance(options, dict):
        raise bad("optimization", "an object", options)
    for key, value in options.items():
        where = f"optimization.{key}"
        if key not in CONFIG_KEYS:
            raise bad(where, f"one of the keys {list(CONFIG_KEYS)}", key)
        kind = CONFIG_KEYS[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise bad(where, f"of JSON type {_type_name(kind)}", value)
        if kind is list and not all(isinstance(item, str) for item in value):
            raise bad(where, "a list of parameter names (strings)", value)
        if key == "covariance_scaling":
            checks.real(value, f"config file {path} (optimization.{key})", positive=True)
        if key == "convergence_tolerance":
            checks.real(value, f"config file {path} (optimization.{key})", nonnegative=True)
    overrides = config.get("parameter_overrides", {})
    if not isinstance(overrides, dict):
        raise bad("parameter_overrides", "an object {name: number}", overrides)
    for name, value in overrides.items():
        checks.real(value, f"config file {path} (parameter_overrides.{name})")
    return config


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({list: "list", bool: "boolean", int: "number", float: "number"}[k]
                       for k in kinds if k is not float or int not in kinds)
