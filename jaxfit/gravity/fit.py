"""Gravity workflows in one import: the theory kernel fitted to the Milky Way, applied
zero-shot to SPARC, scaled to clusters, and fitted jointly, with the research success
criteria as a verdict.

The workflows live in their rooms; this module gathers their public names (the names it
has always offered):

- :mod:`jaxfit.gravity.params`: the theory parameters as a ParamSpec, the phase sign;
- :mod:`jaxfit.gravity.objective`: the losses ``loss(params, data)`` and their data;
- :mod:`jaxfit.gravity.sparc_points`: the SPARC points as flat arrays;
- :mod:`jaxfit.gravity.mw_fit`, :mod:`~jaxfit.gravity.sparc_fit`,
  :mod:`~jaxfit.gravity.cluster_fit`, :mod:`~jaxfit.gravity.joint`: the four workflows;
- :mod:`jaxfit.gravity.results`: their results; :mod:`jaxfit.gravity.criteria`: the verdicts.
"""

from jaxfit.gravity.cluster_fit import cluster_amplitude
from jaxfit.gravity.criteria import (
    CRITERIA,
    cluster_verdict,
    mw_verdict,
    sparc_verdict,
    verdict,
)
from jaxfit.gravity.joint import joint_fit
from jaxfit.gravity.kernel import KernelConfig, theory_kernel, theory_kernel_points
from jaxfit.gravity.mw_fit import mw_fit
from jaxfit.gravity.objective import (
    FIT_CONFIG,
    FIT_OPTIONS,
    ClusterData,
    JointData,
    MWCurveData,
    MWKernelData,
    cluster_data,
    cluster_unit_kernel,
    correlation_penalty,
    joint_data,
    joint_kernels,
    joint_loss,
    joint_parts,
    mw_band_radii,
    mw_curve_data,
    mw_kernel_data,
    mw_kernel_loss,
    mw_vc_loss,
    pearson,
    profile_a_cluster,
    sparc_metrics,
)
from jaxfit.gravity.params import (
    A_CLUSTER_BOUNDS,
    BULGE_TO_DISC_UPSILON,
    RESEARCH_MW_EMPIRICAL,
    SIGMA_V,
    THEORY_BOUNDS,
    THEORY_DEFAULTS,
    THEORY_PARAMS,
    signed_params,
    theory_spec,
)
from jaxfit.gravity.results import (
    SIGMA_BINS,
    ClusterFit,
    JointFit,
    MWFit,
    SparcResult,
    read_theory_json,
)
from jaxfit.gravity.sparc_fit import UPSILON_GRID, fit_upsilon, sparc_batch
from jaxfit.gravity.sparc_points import SparcPoints, sparc_points

__all__ = [
    "A_CLUSTER_BOUNDS", "BULGE_TO_DISC_UPSILON", "CRITERIA", "FIT_CONFIG", "FIT_OPTIONS",
    "RESEARCH_MW_EMPIRICAL", "SIGMA_BINS", "SIGMA_V", "THEORY_BOUNDS", "THEORY_DEFAULTS",
    "THEORY_PARAMS", "UPSILON_GRID", "ClusterData", "ClusterFit", "JointData", "JointFit",
    "KernelConfig", "MWCurveData", "MWFit", "MWKernelData", "SparcPoints", "SparcResult",
    "cluster_amplitude", "cluster_data", "cluster_unit_kernel", "cluster_verdict",
    "correlation_penalty", "fit_upsilon", "joint_data", "joint_fit", "joint_kernels",
    "joint_loss", "joint_parts", "mw_band_radii", "mw_curve_data", "mw_fit", "mw_kernel_data",
    "mw_kernel_loss", "mw_vc_loss", "mw_verdict", "pearson", "profile_a_cluster",
    "read_theory_json", "signed_params", "sparc_batch", "sparc_metrics", "sparc_points",
    "sparc_verdict", "theory_kernel", "theory_kernel_points", "theory_spec", "verdict",
]  # fmt: skip
