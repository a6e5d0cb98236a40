"""The cluster sample: the packaged clusters, their baryon models, and a
:class:`ClusterSet` holding everything the amplitude fit needs at each Einstein radius.

The packaged table ``data/gravity_clusters.json`` holds MACSJ0416, MACSJ0717 and
ABELL_1689 (the research code's names): z_lens, z_source, theta_E with its error and the
baryon profiles, each number with its citation (MACS J0416's theta_E is derived from the
published critical area; the JSON says so). Since the three clusters have different profile
types, :func:`load_clusters` evaluates each cluster's baryon mass once at its Einstein radius
(fixed by the geometry) and stores arrays of shape ``(C,)``; the fit then only needs
:func:`theory_mass` / :func:`mass_ratio`, which are batched array expressions.

Choices for the packaged clusters (see the JSON notes): Abell 1689 and MACS J0717 have ACCEPT
gas and no published stellar profile (M_bar is gas only, a lower bound); MACS J0416 has the
three Bonamigo+2017 dPIE gas components (their two R_T lower limits used as values, the
paper's 5.34 kpc/arcsec used for the conversion whatever H0/Om are chosen) plus the
DeMaio+2018 BCG+ICL aperture masses. By default the dPIE components are concentric (each
about its own centre, the spherical approximation); ``dpie_offsets=True`` places them at
their published offsets from the NE BCG G1, with the aperture centred on G1.

Units: lengths in kpc, masses in Msun, velocities in km/s, accelerations in
km^2 s^-2 kpc^-1, angles in arcsec.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.arrays import f64, pytree
from jaxfit.gravity.cluster_baryons import (
    PROJECTIONS,
    ApertureMasses,
    BaryonModel,
    DPIEGas,
    HernquistStars,
    beta_gas,
    gas_from_shells,
)
from jaxfit.gravity.cluster_files import read_cluster_table, read_gas_csv, read_stars_csv
from jaxfit.gravity.cluster_profiles import MU_E_DEFAULT, dpie_rho0
from jaxfit.gravity.lens_geometry import einstein_radius_kpc, lensing_distances, sigma_crit
from jaxfit.gravity.limits import speed
from jaxfit.gravity.units import G_NEWTON

SIGMA_V_DEFAULT = 1000.0
"""Default cluster velocity dispersion [km/s] passed to the theory kernel."""

CLUSTERS_FILE = "gravity_clusters.json"
DEFAULT_CLUSTERS = ("MACSJ0416", "MACSJ0717", "ABELL_1689")
"""The research code's three clusters, packaged in ``data/gravity_clusters.json``."""


@functools.cache
def _packaged_text() -> str:
    return importlib.resources.files("jaxfit.data").joinpath(CLUSTERS_FILE).read_text("utf-8")


def packaged_clusters() -> dict:
    """The parsed ``data/gravity_clusters.json`` (a fresh copy)."""
    return json.loads(_packaged_text())


def _unknown_cluster(name, valid) -> ValueError:
    return ValueError(f"unknown cluster {name!r}; valid names: {', '.join(valid)}")


def cluster_baryons(
    name: str,
    *,
    mu_e=MU_E_DEFAULT,
    gas_interp: str = "loglog",
    dpie_offsets: bool = False,
    stars: bool = True,
) -> BaryonModel:
    """The baryon model of a packaged cluster (see the module doc for the choices).

    Args:
        name: one of :data:`DEFAULT_CLUSTERS`.
        mu_e: mass per electron [m_p] for n_e-based gas (1.17; research code 0.59).
        gas_interp: ``"loglog"`` or ``"shells"`` for ACCEPT tables.
        dpie_offsets: place the MACS J0416 dPIE components at their published offsets from
            BCG G1 (aperture centred on G1) instead of concentric.
        stars: include the stellar component where one is packaged.

    Raises:
        ValueError: unknown name, ``mu_e`` not > 0, unknown ``gas_interp``.
    """
    clusters = packaged_clusters()["clusters"]
    if name not in clusters:
        raise _unknown_cluster(name, list(clusters))
    checks.real(mu_e, "mu_e", positive=True)
    entry = clusters[name]
    gas_entry = entry["gas"]
    labels, components = [], []
    if gas_entry["form"] == "accept_shells":
        gas = gas_from_shells(
            1000.0 * np.asarray(gas_entry["r_in_Mpc"]),
            1000.0 * np.asarray(gas_entry["r_out_Mpc"]),
            np.asarray(gas_entry["n_e_cm3"]),
            mu_e=mu_e,
            interp=gas_interp,
        )
    elif gas_entry["form"] == "dpie":
        scale = gas_entry["kpc_per_arcsec"]["value"]
        comps = gas_entry["components"]
        sigma0 = np.array([c["sigma0_km_s"] for c in comps])
        a = scale * np.array([c["R_C_arcsec"] for c in comps])
        s = scale * np.array([c["R_T_arcsec"] for c in comps])
        x0 = np.array([c["x0_arcsec"] for c in comps])
        y0 = np.array([c["y0_arcsec"] for c in comps])
        offset = scale * np.hypot(x0, y0) if dpie_offsets else np.zeros_like(x0)
        gas = DPIEGas(f64(dpie_rho0(sigma0, a, s)), f64(a), f64(s), f64(offset))
    else:  # pragma: no cover - the packaged file has only these forms
        raise ValueError(f"{CLUSTERS_FILE}: unknown gas form {gas_entry['form']!r} for {name}")
    labels.append("gas")
    components.append(gas)
    star_entry = entry["stars"]
    if stars and star_entry["form"] == "aperture":
        labels.append("stars")
        components.append(
            ApertureMasses(f64(star_entry["R_kpc"]), f64(star_entry["M_Msun"]))
        )
    return BaryonModel(tuple(components), tuple(labels))


# --------------------------------------------------------------------------- the cluster set


@pytree(
    ["z_l", "z_s", "theta_E", "theta_E_err", "D_l", "R_E_kpc", "Sigma_crit", "M_required",
     "M_required_err", "M_bar", "g_bar_RE", "sigma_v"],
    ["names", "projection", "mu_e", "H0", "Om"],
)  # fmt: skip
@dataclass(frozen=True, eq=False)
class ClusterSet:
    """A batch of C clusters with everything the amplitude fit needs, arrays of shape (C,).

    Attributes:
        z_l, z_s: lens and source redshifts.
        theta_E, theta_E_err: Einstein radius and its 1-sigma error [arcsec] (NaN: none).
        D_l: lens angular-diameter distance [kpc].
        R_E_kpc: Einstein radius ``theta_E D_l`` [kpc].
        Sigma_crit: critical surface density [Msun/kpc^2].
        M_required: ``pi R_E^2 Sigma_crit`` [Msun]; M_required_err: from theta_E_err
            (``2 M sigma_theta/theta``).
        M_bar: baryon mass enclosed at R_E [Msun] (``projection``).
        g_bar_RE: ``G M_bar / R_E^2`` [km^2 s^-2 kpc^-1].
        sigma_v: velocity dispersion for the theory kernel [km/s].
        names: cluster names (static); projection, mu_e, H0, Om: how the set was built.
    """

    z_l: jax.Array
    z_s: jax.Array
    theta_E: jax.Array
    theta_E_err: jax.Array
    D_l: jax.Array
    R_E_kpc: jax.Array
    Sigma_crit: jax.Array
    M_required: jax.Array
    M_required_err: jax.Array
    M_bar: jax.Array
    g_bar_RE: jax.Array
    sigma_v: jax.Array
    names: tuple[str, ...]
    projection: str = "projected"
    mu_e: float = MU_E_DEFAULT
    H0: float = 70.0
    Om: float = 0.3

    def __len__(self) -> int:
        return len(self.names)

    def rows(self) -> list[dict]:
        """One plain dict per cluster (for JSON/CSV reports)."""
        fields = ("z_l", "z_s", "theta_E", "theta_E_err", "D_l", "R_E_kpc", "Sigma_crit",
                  "M_required", "M_required_err", "M_bar", "g_bar_RE", "sigma_v")  # fmt: skip
        arrays = {f: np.asarray(getattr(self, f)) for f in fields}
        out = []
        for i, name in enumerate(self.names):
            row = {"name": name}
            row.update({f: float(arrays[f][i]) for f in fields})
            row["M_bar_over_M_required"] = row["M_bar"] / row["M_required"]
            out.append(row)
        return out


def _parse_names(names, valid: Sequence[str]) -> list[str]:
    if names is None:
        return list(valid)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if not names:
        raise ValueError("names must name at least one cluster")
    for n in names:
        if n not in valid:
            raise _unknown_cluster(n, valid)
    if len(set(names)) != len(names):
        raise ValueError(f"names has duplicates: {names}")
    return names


def _table_baryons(row: dict, *, mu_e, gas_interp, dpie_offsets) -> BaryonModel:
    labels, components = [], []
    if row["gas_csv"] is not None:
        labels.append("gas")
        components.append(read_gas_csv(row["gas_csv"], mu_e=mu_e))
    elif row["ne0_cm3"] is not None:
        labels.append("gas")
        components.append(beta_gas(row["ne0_cm3"], row["rc_kpc"], row["beta"], mu_e=mu_e))
    if row["stars_csv"] is not None:
        labels.append("stars")
        components.append(read_stars_csv(row["stars_csv"]))
    if row["bcg_mass_Msun"] is not None:
        labels.append("bcg")
        components.append(
            HernquistStars(f64(row["bcg_mass_Msun"]), f64(row["bcg_a_kpc"]))
        )
    if components:
        return BaryonModel(tuple(components), tuple(labels))
    if row["name"] in DEFAULT_CLUSTERS:
        return cluster_baryons(
            row["name"], mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
        )
    raise ValueError(
        f"cluster {row['name']!r}: no baryon profile (give gas_csv, stars_csv, a beta model "
        f"or a Hernquist BCG in the table; packaged profiles exist for {list(DEFAULT_CLUSTERS)})"
    )


def load_clusters(
    names=None,
    table=None,
    projection: str = "projected",
    mu_e=MU_E_DEFAULT,
    H0=70.0,
    Om=0.3,
    *,
    sigma_v=SIGMA_V_DEFAULT,
    gas_interp: str = "loglog",
    dpie_offsets: bool = False,
) -> ClusterSet:
    """Load clusters and evaluate their lensing geometry and baryon mass at R_E.

    Args:
        names: cluster names (a sequence or a comma-separated string); default all (the
            packaged :data:`DEFAULT_CLUSTERS`, or every row of ``table``).
        table: optional cluster table CSV (:func:`read_cluster_table`) instead of the
            packaged JSON; rows without baryon columns use the packaged profile of the same
            name.
        projection: ``"projected"`` (cylinder, correct for lensing) or ``"3d"`` (sphere, the
            research code).
        mu_e: mass per electron [m_p] for n_e-based gas (1.17; 0.59 = research code).
        H0, Om: flat LCDM for the lensing distances.
        sigma_v: velocity dispersion [km/s] of clusters without a ``sigma_v_kms`` column.
        gas_interp, dpie_offsets: see :func:`cluster_baryons`.

    Returns:
        :class:`ClusterSet` in the order of ``names``.

    Raises:
        ValueError: unknown cluster name (listing the valid ones), ``z_source <= z_lens``,
            ``theta_E <= 0``, bad ``projection``/``mu_e``/``H0``/``Om``/``sigma_v``, or a
            malformed table or profile file (naming the file and column).
    """
    checks.one_of(projection, "projection", PROJECTIONS)
    mu_e = checks.real(mu_e, "mu_e", positive=True)
    H0 = checks.real(H0, "H0", positive=True)
    sigma_v = speed(sigma_v, "sigma_v [km/s]")
    Om = checks.real(Om, "Om", nonnegative=True)

    entries = []
    if table is None:
        packaged = packaged_clusters()["clusters"]
        for name in _parse_names(names, list(packaged)):
            e = packaged[name]
            entries.append(
                {
                    "name": name,
                    "z_lens": e["z_lens"]["value"],
                    "z_source": e["z_source"]["value"],
                    "theta_E_arcsec": e["theta_E_arcsec"]["value"],
                    "sigma": e["theta_E_arcsec"].get("err"),
                    "sigma_v_kms": None,
                    "baryons": cluster_baryons(
                        name, mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
                    ),
                }
            )
    else:
        rows = read_cluster_table(table)
        by_name = {r["name"]: r for r in rows}
        for name in _parse_names(names, list(by_name)):
            row = dict(by_name[name])
            row["baryons"] = _table_baryons(
                row, mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
            )
            entries.append(row)

    for e in entries:
        where = f"cluster {e['name']!r}"
        if not (math.isfinite(e["z_lens"]) and e["z_lens"] > 0):
            raise ValueError(f"{where}: z_lens must be > 0, got {e['z_lens']}")
        if not (math.isfinite(e["z_source"]) and e["z_source"] > e["z_lens"]):
            raise ValueError(
                f"{where}: z_source ({e['z_source']}) must exceed z_lens ({e['z_lens']})"
            )
        if not (math.isfinite(e["theta_E_arcsec"]) and e["theta_E_arcsec"] > 0):
            raise ValueError(f"{where}: theta_E_arcsec must be > 0, got {e['theta_E_arcsec']}")
        if e["sigma"] is not None and not (math.isfinite(e["sigma"]) and e["sigma"] >= 0):
            raise ValueError(f"{where}: sigma (theta_E error) must be >= 0, got {e['sigma']}")
        if e["sigma_v_kms"] is not None and not (
            math.isfinite(e["sigma_v_kms"]) and e["sigma_v_kms"] > 0
        ):
            raise ValueError(f"{where}: sigma_v_kms must be > 0, got {e['sigma_v_kms']}")

    z_l = np.array([e["z_lens"] for e in entries], dtype=np.float64)
    z_s = np.array([e["z_source"] for e in entries], dtype=np.float64)
    theta = np.array([e["theta_E_arcsec"] for e in entries], dtype=np.float64)
    theta_err = np.array(
        [np.nan if e["sigma"] is None else e["sigma"] for e in entries], dtype=np.float64
    )
    sig_v = np.array(
        [sigma_v if e["sigma_v_kms"] is None else e["sigma_v_kms"] for e in entries],
        dtype=np.float64,
    )
    d_l, _, _ = lensing_distances(z_l, z_s, H0, Om)
    r_e = einstein_radius_kpc(theta, z_l, H0, Om)
    s_crit = sigma_crit(z_l, z_s, H0, Om)
    m_req = math.pi * r_e**2 * s_crit
    # one evaluation per cluster at load: the profiles differ in type, R_E is fixed
    m_bar = jnp.stack([e["baryons"].mass(r_e[i], projection) for i, e in enumerate(entries)])
    return ClusterSet(
        z_l=f64(z_l),
        z_s=f64(z_s),
        theta_E=f64(theta),
        theta_E_err=f64(theta_err),
        D_l=d_l,
        R_E_kpc=r_e,
        Sigma_crit=s_crit,
        M_required=m_req,
        M_required_err=2.0 * m_req * f64(theta_err) / f64(theta),
        M_bar=m_bar,
        g_bar_RE=G_NEWTON * m_bar / r_e**2,
        sigma_v=f64(sig_v),
        names=tuple(e["name"] for e in entries),
        projection=projection,
        mu_e=mu_e,
        H0=H0,
        Om=Om,
    )


def theory_mass(clusters: ClusterSet, K_at_RE):
    """Dynamical mass the modified gravity assigns inside R_E [Msun]:
    ``g_eff R_E^2 / G`` with ``g_eff = g_bar (1 + K)`` (= ``M_bar (1 + K)``).

    Args:
        clusters: :class:`ClusterSet`.
        K_at_RE: kernel value(s) at each cluster's R_E (shape (C,) or broadcastable; the
            caller includes A_cluster and the phase sign).
    """
    g_eff = clusters.g_bar_RE * (1.0 + jnp.asarray(K_at_RE))
    return g_eff * clusters.R_E_kpc**2 / G_NEWTON


def mass_ratio(clusters: ClusterSet, K_at_RE):
    """``M_theory / M_required`` per cluster (1 = the lensing mass is reproduced)."""
    return theory_mass(clusters, K_at_RE) / clusters.M_required
