"""The cosmo chi2 as one pure function of the parameters and the data: ``chi2(params, data)``.

Why this shape: jaxfit's optimisers, scans, Hessians and samplers pass ``data`` to their
compiled programs as an *argument* (:mod:`jaxfit.core.objective`), so a compiled fit depends
only on the shapes of the data, never on their values. Refitting with another covariance
scaling, another frozen value (Neff = 3.2 instead of 3.046), another copy of the same data
set, or simply repeating a fit from Python compiles nothing new, and no cache is needed to
avoid recompiling.

The data are a :class:`CosmoData` pytree:

- **leaves** (arrays, the values that may change without recompiling): redshifts, measured
  values, lower Cholesky factors of the covariances, the BAO fiducial sound horizon;
- **static fields** (part of the compiled program's identity; they choose *which* physics
  runs): the model name (``"lcdm"``, ``"pbuf"``), the r_d method (``"aubourg"``, ``"eh98"``),
  the cobaya quantity name of every BAO entry, and the data-set keys (``"cmb:planck2018"``,
  ``"bao:desi_dr2"``, ...), which say which kinds of data are present.

Build the data with :func:`cosmo_data` (parse and load a selection such as ``"cmb,bao"``) or
:func:`as_data` (from containers already loaded with :mod:`jaxfit.cosmo.datasets`), then::

    data = cosmo_data("lcdm", "cmb,bao")
    minimize(chi2, spec, data=data)          # jaxfit.core.optimize
    chi2_breakdown(fit.x, data)              # {"cmb:planck2018": ..., "bao:desi_dr2": ...}

Units: as in :mod:`jaxfit.cosmo.model` (H0 in km/s/Mpc, distances and r_d in Mpc); every
chi2 is dimensionless.

Physical domain (documented constraint, :mod:`jaxfit.cosmo.domain`): a point whose
``E^2(z) = (H/H0)^2`` is ``<= 0`` anywhere on the redshift range a data set integrates over
(``[0, z*]`` for the CMB, ``[0, max z]`` of the data for BAO and SN) is excluded: its chi2
is ``+inf``, with a finite (zero) gradient, never NaN. Optimisers, scans and samplers treat
it as infinitely bad. Inside the bounds this happens for closed models with little matter
(``Ok0 = -0.3``, ``Om0 <= 0.05``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import C_KM_S
from jaxfit.cosmo.bao import BAOData, bao_chi2, bao_model_vector, canonical_quantity
from jaxfit.cosmo.cmb import CMBPriors, cmb_chi2
from jaxfit.cosmo.datasets import load_datasets, parse_datasets
from jaxfit.cosmo.model import (
    R_DRAG_METHODS,
    bend,
    cmb_observables,
    comoving_distances,
    get_model,
    r_drag,
    z_star,
)
from jaxfit.cosmo.sn import SNData, sn_chi2, sn_mu_model

# --------------------------------------------------------------------------------------------
# the data pytree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CMBLikelihood:
    """Arrays of the CMB distance-prior chi2 (:func:`jaxfit.cosmo.cmb.cmb_chi2`).

    Attributes:
        mean: prior means of ``(R, l_A, omega_b, n_s)`` (dimensionless), shape ``(4,)``.
        chol: lower Cholesky factor of their covariance (times ``cov_scale``), ``(4, 4)``.
    """

    mean: jax.Array
    chol: jax.Array


@dataclass(frozen=True, eq=False)
class BAOLikelihood:
    """Arrays of a BAO chi2 (:func:`jaxfit.cosmo.bao.bao_chi2`).

    Attributes:
        z: effective redshift of each entry, shape ``(n,)``.
        value: measured values, shape ``(n,)`` (units per quantity, see
            :mod:`jaxfit.cosmo.bao`).
        chol: lower Cholesky factor of their covariance, ``(n, n)``.
        rd_fid: fiducial sound horizon [Mpc] the values are scaled by (BOSS DR12: 147.78),
            a 0-d array; 1.0 for plain ratios to r_d (``r_d / 1.0`` is ``r_d`` exactly).
        quantity: canonical cobaya quantity name of each entry (static: it picks the
            formula of each entry, so it is part of the compiled program).
        n_distinct: number of distinct values in ``z`` (static; D_M and D_H share a redshift,
            so DESI DR2 has 7 in 13 entries): the merged distance quadrature integrates each
            distinct redshift once. None: no deduplication (every entry its own panel edge).
    """

    z: jax.Array
    value: jax.Array
    chol: jax.Array
    rd_fid: jax.Array
    quantity: tuple[str, ...]
    n_distinct: int | None = None


@dataclass(frozen=True, eq=False)
class SNLikelihood:
    """Arrays of an SN Ia chi2 with the magnitude offset profiled
    (:func:`jaxfit.cosmo.sn.sn_chi2`).

    Attributes:
        z: cosmological redshift (zHD / zcmb) of each supernova, shape ``(n,)``.
        zhel: heliocentric redshift, shape ``(n,)``.
        mu_or_mb: distance modulus or corrected apparent magnitude [mag], shape ``(n,)``;
            either way the additive offset is profiled, so the kind does not enter the chi2.
        chol: lower Cholesky factor of the covariance [mag], ``(n, n)``.
        n_distinct: number of distinct values in ``z`` (static; see :class:`BAOLikelihood`).
    """

    z: jax.Array
    zhel: jax.Array
    mu_or_mb: jax.Array
    chol: jax.Array
    n_distinct: int | None = None


@dataclass(frozen=True, eq=False)
class CosmoData:
    """Everything :func:`chi2` needs besides the parameters.

    Attributes:
        sets: ``{"kind:name": CMBLikelihood | BAOLikelihood | SNLikelihood}`` in the order of
            the selection (the keys are static: they name the data sets and their kinds).
        model: model name from :data:`jaxfit.cosmo.model.MODELS` (static).
        rd_method: r_d method of :func:`jaxfit.cosmo.model.r_drag` (static).
    """

    sets: dict
    model: str
    rd_method: str = "aubourg"

    @property
    def keys(self) -> list[str]:
        """The data-set keys, in order."""
        return list(self.sets)


for _cls, _arrays, _static in (
    (CMBLikelihood, ["mean", "chol"], []),
    (BAOLikelihood, ["z", "value", "chol", "rd_fid"], ["quantity", "n_distinct"]),
    (SNLikelihood, ["z", "zhel", "mu_or_mb", "chol"], ["n_distinct"]),
    (CosmoData, ["sets"], ["model", "rd_method"]),
):
    jax.tree_util.register_dataclass(_cls, data_fields=_arrays, meta_fields=_static)


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _distinct(z) -> int:
    return int(np.unique(_f64(z)).size)


def likelihood_arrays(dataset, key: str = "data set"):
    """The arrays of one loaded data set (:class:`~jaxfit.cosmo.cmb.CMBPriors`,
    :class:`~jaxfit.cosmo.bao.BAOData` or :class:`~jaxfit.cosmo.sn.SNData`) as the
    matching likelihood pytree; names, citations and file paths are left behind, so two
    copies of a data set read from different places give the same compiled program.

    Raises:
        TypeError: any other type (``key`` names the data set in the message).
    """
    if isinstance(dataset, CMBPriors):
        return CMBLikelihood(mean=_f64(dataset.mean), chol=dataset.chol)
    if isinstance(dataset, BAOData):
        return BAOLikelihood(
            z=_f64(dataset.z),
            value=_f64(dataset.value),
            chol=dataset.chol,
            rd_fid=_f64(1.0 if dataset.rd_fid is None else dataset.rd_fid),
            quantity=tuple(canonical_quantity(str(q)) for q in dataset.quantity),
            n_distinct=_distinct(dataset.z),
        )
    if isinstance(dataset, SNData):
        return SNLikelihood(
            z=_f64(dataset.z), zhel=_f64(dataset.zhel), mu_or_mb=_f64(dataset.mu_or_mb),
            chol=dataset.chol, n_distinct=_distinct(dataset.z),
        )
    raise TypeError(f"data set {key!r}: unsupported type {type(dataset).__name__}")


def as_data(model: str, datasets: Mapping, rd_method: str = "aubourg") -> CosmoData:
    """:class:`CosmoData` from loaded data sets ``{key: CMBPriors | BAOData | SNData}``.

    Raises:
        KeyError: unknown model (the message lists the valid ones).
        ValueError: unknown ``rd_method``.
        TypeError: a data set of another type.
    """
    get_model(model)
    if rd_method not in R_DRAG_METHODS:
        raise ValueError(
            f"unknown r_drag method {rd_method!r}; valid methods: {', '.join(R_DRAG_METHODS)}"
        )
    sets = {str(key): likelihood_arrays(d, str(key)) for key, d in datasets.items()}
    return CosmoData(sets=sets, model=model, rd_method=rd_method)


def cosmo_data(
    model: str,
    datasets="cmb",
    data_dir=None,
    cov_scale: float = 1.0,
    rd_method: str = "aubourg",
) -> CosmoData:
    """Parse and load a selection (:func:`jaxfit.cosmo.datasets.load_datasets`) as
    :class:`CosmoData`; keys are normalised (``"cmb"`` becomes ``"cmb:planck2018"``).

    Loading is cheap (host reads and Cholesky factors); no cache is kept, and none is
    needed: the compiled programs depend on the data's shapes only.

    Args:
        model: ``"lcdm"`` or ``"pbuf"``.
        datasets: e.g. ``"cmb,bao"`` or ``"cmb,bao:desi_dr1,sn:union3"``.
        data_dir: folder with cobaya ``bao_data``/``sn_data`` (None: packaged data only).
        cov_scale: multiplies the CMB covariance.
        rd_method: ``"aubourg"`` or ``"eh98"``.
    """
    selection = ",".join(f"{kind}:{name}" for kind, name in parse_datasets(datasets))
    loaded = load_datasets(selection, data_dir=data_dir, cov_scale=cov_scale)
    return as_data(model, loaded, rd_method)


# --------------------------------------------------------------------------------------------
# the chi2, one pure function per kind of data
# --------------------------------------------------------------------------------------------


def excluded_unless(physical, chi2):
    """``chi2`` where ``physical`` (a bool), else ``+inf``: the domain rule of the module doc.
    The caller computed ``chi2`` with finite stand-ins outside the domain, so the gradient
    through this ``where`` is finite (0 for an excluded point)."""
    return jnp.where(physical, chi2, jnp.inf)


def _transverse(z, p, model: str, z_top=None, n_distinct=None):
    """``(D_M [Mpc], physical)`` at ``z`` (and ``z_top``) in the chi2's domain mode of
    :func:`~jaxfit.cosmo.model.comoving_distances`."""
    dc, lowest = comoving_distances(z, p, model, z_top=z_top, n_distinct=n_distinct,
                                    domain=True)
    return bend(dc, p), lowest > 0.0


def _hubble_distance(z, p, model: str):
    """``(D_H = c/H(z) [Mpc], physical)`` at the redshifts ``z``: where ``E^2 <= 0`` a
    finite stand-in (``E = 1``) and ``physical`` False."""
    e2 = get_model(model).E2(jnp.asarray(z), p)
    return C_KM_S / (p["H0"] * jnp.sqrt(jnp.where(e2 > 0.0, e2, 1.0))), jnp.all(e2 > 0.0)


def cmb_part(p, cmb: CMBLikelihood, model: str, dm_star=None):
    """chi2 of the CMB distance priors at parameters ``p`` (:func:`cmb_observables`);
    ``dm_star``: ``D_M(z*)`` [Mpc] if already computed (None: computed here, ``+inf`` for a
    point outside the physical domain)."""
    physical = True
    if dm_star is None:
        dm_star, physical = _transverse(jnp.zeros(0), p, model, z_top=z_star(p))
        dm_star = dm_star[0]
    return excluded_unless(physical, cmb_chi2(cmb_observables(p, model, dm_star), cmb))


def bao_part(p, bao: BAOLikelihood, model: str, rd_method: str, dm=None):
    """chi2 of a BAO data vector: model D_M, D_H [Mpc] at the data's redshifts over the
    effective ruler ``r_d / r_d,fid`` (cobaya's ``rs_fid`` convention); ``dm``: ``D_M`` at
    ``bao.z`` if already computed (None: computed here)."""
    rs = r_drag(p, model, rd_method) / bao.rd_fid
    physical = True
    if dm is None:
        dm, physical = _transverse(bao.z, p, model)
    dh, expanding = _hubble_distance(bao.z, p, model)
    vector = bao_model_vector(
        bao.quantity,
        bao.z,
        dm,
        dh,
        rd=rs,
        rd_fid=None,  # already divided out above; rd_fid is data (a leaf), not static
    )
    return excluded_unless(jnp.logical_and(physical, expanding), bao_chi2(vector, bao))


def sn_part(p, sn: SNLikelihood, model: str, dm=None):
    """chi2 of an SN sample, magnitude offset profiled: ``mu = 5 log10((1 + z_hel) D_M(z) /
    10 pc)`` against the data; ``dm``: ``D_M`` at ``sn.z`` if already computed."""
    physical = True
    if dm is None:
        dm, physical = _transverse(sn.z, p, model)
    return excluded_unless(physical, sn_chi2(sn_mu_model(dm, sn.zhel), sn))


def dataset_chi2(params, likelihood, model: str, rd_method: str = "aubourg", dm=None):
    """chi2 of one data set (a :class:`CMBLikelihood`, :class:`BAOLikelihood` or
    :class:`SNLikelihood`) at ``params`` (pure JAX; dimensionless). ``dm``: the transverse
    comoving distances it needs (``D_M(z*)`` for the CMB, ``D_M`` at the data's redshifts
    otherwise) when already computed; None: computed for this data set alone."""
    if isinstance(likelihood, CMBLikelihood):
        return cmb_part(params, likelihood, model, dm)
    if isinstance(likelihood, BAOLikelihood):
        return bao_part(params, likelihood, model, rd_method, dm)
    return sn_part(params, likelihood, model, dm)


def transverse_distances(params, data: CosmoData) -> dict:
    """``{key: D_M}`` [Mpc] for every data set of ``data``: at ``z*`` (a scalar) for the
    CMB, at the data's redshifts for BAO and SN. All from ONE
    :func:`~jaxfit.cosmo.model.comoving_distances`: one merged node set whose panel edges are
    every data redshift, then z* (pure JAX). Outside the physical domain (module doc) the
    distances are finite stand-ins; :func:`chi2_parts` excludes such a point."""
    return _distances_in_domain(params, data)[0]


def _distances_in_domain(params, data: CosmoData):
    """``({key: D_M}, physical)``: :func:`transverse_distances` and whether ``E^2 > 0`` at
    every quadrature node (over ``[0, z*]`` with a CMB, else ``[0, max z]``)."""
    keys = [k for k, d in data.sets.items() if not isinstance(d, CMBLikelihood)]
    with_cmb = len(keys) < len(data.sets)
    z = [jnp.asarray(data.sets[k].z) for k in keys]
    counts = [data.sets[k].n_distinct for k in keys]
    dm, physical = _transverse(
        jnp.concatenate(z) if z else jnp.zeros(0),
        params,
        data.model,
        z_top=z_star(params) if with_cmb else None,
        n_distinct=sum(counts) if z and None not in counts else None,
    )
    out, start = {}, 0
    for key, zk in zip(keys, z, strict=True):
        out[key] = dm[start : start + zk.shape[0]]
        start += zk.shape[0]
    for key, d in data.sets.items():
        if isinstance(d, CMBLikelihood):
            out[key] = dm[-1]
    return out, physical


def chi2_parts(params, data: CosmoData) -> dict:
    """``{key: chi2}``: the chi2 of each data set at ``params`` (pure JAX; dimensionless).
    The distances of all data sets come from one merged quadrature
    (:func:`transverse_distances`). ``+inf`` for a point outside the physical domain
    (module doc).

    Args:
        params: ``{name: value}`` with every parameter of ``data.model``.
        data: from :func:`cosmo_data` or :func:`as_data`.
    """
    dm, physical = _distances_in_domain(params, data)
    return {key: excluded_unless(physical, dataset_chi2(params, d, data.model, data.rd_method,
                                                        dm[key]))
            for key, d in data.sets.items()}


def chi2(params, data: CosmoData):
    """Total chi2 over every data set in ``data`` at ``params`` (pure JAX; dimensionless).

    The objective of every cosmo fit: ``minimize(chi2, spec, data=data)``.
    """
    return sum(chi2_parts(params, data).values())


chi2_parts_jit = jax.jit(chi2_parts)
""":func:`chi2_parts`, compiled once per parameter structure and data shapes."""


def chi2_breakdown(params: Mapping, data: CosmoData) -> dict[str, float]:
    """``{key: chi2}`` as Python floats, evaluated by :data:`chi2_parts_jit`.

    The parameter values are passed as float64 scalars whatever their Python type, so a
    start point (jax arrays) and a fit result (floats) share one compiled program.
    """
    point = {n: np.float64(v) for n, v in params.items()}
    return {k: float(v) for k, v in chi2_parts_jit(point, data).items()}
