"""Lepton targets: CODATA masses and g-factors, with validation.

The packaged file ``data/codata2022_leptons.json`` (package ``jaxfit.data``) holds the
CODATA 2022 values (Mohr, Newell, Taylor & Tiesinga, "CODATA Recommended Values of the
Fundamental Physical Constants: 2022", Rev. Mod. Phys.; NIST 2024), each with its standard
uncertainty and the CODATA quantity name it was transcribed from:

=====  ==============================  ===========================
lepton mass m c^2 (MeV)                anomaly a = (|g| - 2) / 2
=====  ==============================  ===========================
e      0.51099895069(16)               1.15965218046(18) x 1e-3
mu     105.6583755(23)                 1.16592062(41) x 1e-3
tau    1776.86(12) ("tau energy        only bounded: -0.052 < a < 0.013
       equivalent")                    (95% CL, DELPHI 2004): left out
=====  ==============================  ===========================

Targets for the g-factor fits are ``g = 2 (1 + a)`` (magnitudes; CODATA's g-factors are
negative by its sign convention), with uncertainty ``2 sigma_a``.

The mass fit does not use the CODATA uncertainties (1e-10 ... 7e-5 relative), which are far
below what a toy model can aim for: the spec's model uncertainty is relative,
``sigma_l = sigma_model * m_l`` (:func:`mass_sigmas`).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json

import numpy as np

from jaxfit.core import checks

LEPTONS = ("e", "mu", "tau")
"""Lepton names in the order of every array in jaxfit.leptons."""

DATA_FILES = {2022: "codata2022_leptons.json"}
"""CODATA adjustments packaged in ``jaxfit.data``, by year."""


@dataclasses.dataclass(frozen=True)
class LeptonTargets:
    """Measured lepton masses and g-factors (frozen and validated; the objectives read them
    as arrays, :func:`jaxfit.leptons.objective.lepton_data`).

    Attributes:
        names: lepton names of ``masses`` (default ``("e", "mu", "tau")``).
        masses: m c^2 in MeV, in ``names`` order (all > 0).
        mass_uncertainties: their standard uncertainties in MeV (> 0).
        g_names: leptons with a g-factor target (default ``("e", "mu")``; a subset of
            ``names``).
        g: ``2 (1 + a)`` for ``g_names`` (dimensionless, > 0).
        g_uncertainties: standard uncertainties of ``g`` (``2 sigma_a``, > 0).
        citation: where the numbers come from.
        year: the CODATA adjustment (0 for synthetic targets).

    Raises:
        ValueError: naming the field and index, for NaN/inf, a non-positive mass, g or
            uncertainty, mismatched lengths, or g names that are not lepton names.
    """

    names: tuple[str, ...]
    masses: tuple[float, ...]
    mass_uncertainties: tuple[float, ...]
    g_names: tuple[str, ...] = ("e", "mu")
    g: tuple[float, ...] = ()
    g_uncertainties: tuple[float, ...] = ()
    citation: str = ""
    year: int = 0

    def __post_init__(self):
        names = tuple(self.names)
        g_names = tuple(self.g_names)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "g_names", g_names)
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"names must be distinct and non-empty, got {names}")
        for field, count in (("masses", len(names)), ("mass_uncertainties", len(names)),
                             ("g", len(g_names)), ("g_uncertainties", len(g_names))):
            values = tuple(checks.finite_array(getattr(self, field), field, positive=True,
                                               ndim=1, nonempty=False).tolist())
            if len(values) != count:
                raise ValueError(f"{field} needs {count} values (one per name), got {len(values)}")
            object.__setattr__(self, field, values)
        unknown = [n for n in g_names if n not in names]
        if unknown or len(set(g_names)) != len(g_names):
            raise ValueError(f"g_names {g_names} must be distinct lepton names from {names}")

    @property
    def mass_array(self) -> np.ndarray:
        """Masses (MeV) as a float64 array in ``names`` order."""
        return np.asarray(self.masses, dtype=np.float64)

    @property
    def g_array(self) -> np.ndarray:
        """g targets as a float64 array in ``g_names`` order."""
        return np.asarray(self.g, dtype=np.float64)

    def mass(self, name: str) -> float:
        """The mass (MeV) of lepton ``name``."""
        if name not in self.names:
            raise KeyError(f"unknown lepton {name!r}; valid: {', '.join(self.names)}")
        return self.masses[self.names.index(name)]

    def with_masses(self, masses, mass_uncertainties=None) -> LeptonTargets:
        """Copy with new masses (e.g. synthetic ones from the model), validated."""
        return dataclasses.replace(
            self,
            masses=tuple(masses),
            mass_uncertainties=tuple(
                self.mass_uncertainties if mass_uncertainties is None else mass_uncertainties
            ),
        )

    def with_g(self, name: str, anomaly: float, uncertainty: float) -> LeptonTargets:
        """Copy with a g target ``2 (1 + anomaly)`` (uncertainty ``2 uncertainty``) for
        lepton ``name`` added or replaced; e.g. a hypothesised tau anomaly, which CODATA
        does not give."""
        if name not in self.names:
            raise KeyError(f"unknown lepton {name!r}; valid: {', '.join(self.names)}")
        g = dict(zip(self.g_names, self.g, strict=True))
        sig = dict(zip(self.g_names, self.g_uncertainties, strict=True))
        g[name] = 2.0 * (1.0 + float(anomaly))
        sig[name] = 2.0 * float(uncertainty)
        order = tuple(n for n in self.names if n in g)
        return dataclasses.replace(
            self, g_names=order, g=tuple(g[n] for n in order),
            g_uncertainties=tuple(sig[n] for n in order),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"names": list(self.names), "g_names": list(self.g_names)}


def read_codata_file(year: int = 2022) -> dict:
    """The packaged JSON of CODATA adjustment ``year`` as a dict."""
    if year not in DATA_FILES:
        raise ValueError(
            f"no packaged CODATA lepton data for year {year!r}; available: "
            f"{', '.join(map(str, DATA_FILES))}"
        )
    text = importlib.resources.files("jaxfit.data").joinpath(DATA_FILES[year]).read_text()
    return json.loads(text)


def load_targets(year: int = 2022) -> LeptonTargets:
    """CODATA lepton targets: masses of e, mu, tau and g = 2(1 + a) of e and mu.

    Args:
        year: CODATA adjustment (only 2022 is packaged).

    Returns:
        :class:`LeptonTargets` with the citation of the file.

    Raises:
        ValueError: unknown year, or a value in the file that is NaN or not positive.
    """
    raw = read_codata_file(year)
    masses = raw["masses"]
    anomalies = raw["anomalies"]
    g_names = tuple(n for n in LEPTONS if n in anomalies)
    return LeptonTargets(
        names=LEPTONS,
        masses=tuple(masses[n]["value"] for n in LEPTONS),
        mass_uncertainties=tuple(masses[n]["uncertainty"] for n in LEPTONS),
        g_names=g_names,
        g=tuple(2.0 * (1.0 + anomalies[n]["value"]) for n in g_names),
        g_uncertainties=tuple(2.0 * anomalies[n]["uncertainty"] for n in g_names),
        citation=raw["citation"],
        year=int(raw["year"]),
    )


def check_targets(targets: LeptonTargets | None) -> LeptonTargets:
    """``targets`` (default: CODATA 2022, :func:`load_targets`) if they are
    :class:`LeptonTargets` of (e, mu, tau) in that order."""
    targets = load_targets() if targets is None else targets
    checks.instance(targets, "targets", LeptonTargets)
    if targets.names != LEPTONS:
        raise ValueError(f"targets must list the leptons {LEPTONS} in order, got {targets.names}")
    return targets


def check_sigma(value, name: str) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless finite and > 0."""
    return checks.real(value, name, positive=True)


def mass_sigmas(targets: LeptonTargets, sigma_model: float = 1e-4) -> np.ndarray:
    """Model uncertainties of the masses, ``sigma_l = sigma_model * m_l`` (MeV).

    Args:
        targets: the masses.
        sigma_model: relative model uncertainty (> 0; the research used 1e-4, 1e-5, 1e-6).

    Raises:
        ValueError: ``sigma_model`` NaN, inf or not positive.
    """
    return check_sigma(sigma_model, "sigma_model") * targets.mass_array
