"""Readers of the fit JSON files the gravity commands take as input: the theory parameters
of a saved MW or joint fit (``--theory-fit-json``) and the empirical-kernel parameters of
``mw-fit --mw-fit-json``.

A JSON file can hold anything: a list, null, a string where a number belongs, NaN (Python's
json accepts the literal), a value outside the kernel's range. Each reader checks the shape
and every number, and the message names the file and the key, so a wrong file fails at once
instead of giving a plausible fit of nonsense.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from jaxfit.core import checks
from jaxfit.gravity.params import EMPIRICAL_DEFAULTS, THEORY, THEORY_PARAMS

_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "a number",
               float: "a number", bool: "a boolean", type(None): "null"}


def _json_kind(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _load_object(path: Path, what: str):
    """The parsed JSON object of ``path`` (ValueError naming the file when it is not
    UTF-8, not JSON, or not an object)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({what}; {err})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}, line {err.lineno}: not valid JSON ({what}; {err.msg})") \
            from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object ({what}), got {_json_kind(data)}")
    return data


def read_theory_json(path) -> tuple[dict[str, float], float]:
    """``(theory params, phase_sign)`` from a saved MW or joint fit (``--theory-fit-json``).

    Args:
        path: JSON object with a ``theory_fit_params`` (or ``parameters``) object holding
            every name of :data:`~jaxfit.gravity.params.THEORY_PARAMS` and optionally
            ``phase_sign`` (also accepted at the top level; default +1).

    Raises:
        FileNotFoundError: no such file (the message says to run ``mw-fit`` first).
        ValueError: naming the file (and the key): a folder, not UTF-8 JSON, not an object,
            no parameters object, a missing parameter, a value that is not a finite number
            inside the bounds of the kernel's ParamSpec (:data:`~jaxfit.gravity.params.THEORY`;
            the saved ``A_global`` is ``|A|``), a phase_sign other than +1 or -1.
    """
    path = checks.existing_file(
        path, "--theory-fit-json", "run `jaxfit gravity mw-fit` first (it writes "
        "theory_metric_resonance_mw_fit.json into its --out DIR)")
    data = _load_object(path, "a saved MW or joint fit")
    key = "theory_fit_params" if "theory_fit_params" in data else "parameters"
    params = data.get(key)
    if not isinstance(params, Mapping):
        raise ValueError(
            f"{path}, key {key}: expected an object of the theory parameters "
            f"({', '.join(THEORY_PARAMS)}), got {_json_kind(params)}"
        )
    missing = [n for n in THEORY_PARAMS if n not in params]
    if missing:
        raise ValueError(f"{path}, key {key}: theory parameters missing: {missing}")
    values = {p.name: checks.real(params[p.name], f"{path}, key {key}.{p.name}",
                                  low=p.lower, high=p.upper) for p in THEORY}
    sign_key = f"{key}.phase_sign" if "phase_sign" in params else "phase_sign"
    sign = checks.real(params.get("phase_sign", data.get("phase_sign", 1.0)),
                       f"{path}, key {sign_key}")
    if sign not in (1.0, -1.0):
        raise ValueError(f"{path}, key {sign_key}: phase_sign must be +1 or -1, got {sign:g}")
    return values, sign


def read_empirical_json(path) -> dict[str, float]:
    """The empirical-kernel parameters of an MW fit JSON (``mw-fit --mw-fit-json``).

    Args:
        path: JSON object with the parameters of
            :data:`~jaxfit.gravity.params.EMPIRICAL_DEFAULTS` (``A``, ``ell0`` [kpc], ``p``,
            ``n_coh``, ``lam_peak`` [kpc], ``sigma_ln``) at the top level or in a ``params``
            object; other keys are ignored, at least one parameter must be there.

    Returns:
        ``{name: value}`` of the parameters found (the caller completes them).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and key: a folder, not UTF-8 JSON, not an object, none
            of the parameters, a value that is not a finite number, ``A < 0`` or another
            parameter ``<= 0`` (lengths, exponents and the window width are positive).
    """
    path = checks.existing_file(path, "--mw-fit-json")
    data = _load_object(path, "empirical-kernel parameters")
    key = "params" if "params" in data else None
    params = data if key is None else data[key]
    prefix = f"{path}, key " + ("" if key is None else f"{key}.")
    if not isinstance(params, Mapping):
        raise ValueError(f"{path}, key params: expected an object, got {_json_kind(params)}")
    found = [name for name in EMPIRICAL_DEFAULTS if name in params]
    if not found:
        raise ValueError(
            f"{path}: none of the empirical parameters {', '.join(EMPIRICAL_DEFAULTS)} found"
        )
    # the multiplier 1 + A C W: A = 0 is Newton; every other parameter is a scale or exponent
    return {name: checks.real(params[name], prefix + name, nonnegative=name == "A",
                              positive=name != "A") for name in found}
