"""The Sigma-Gravity model in one import: the theory kernel, the empirical kernels and the
rotation curves of modified dynamics ``v_model^2 = v_bar^2 (1 + K(R))``.

The physics lives in its rooms; this module gathers their public names (the names it has
always offered):

- :mod:`jaxfit.gravity.kernel`: the metric-fluctuation resonance kernel (wavelength
  quadrature, normalisation, derivatives);
- :mod:`jaxfit.gravity.empirical`: the research multiplier and the published kernels;
- :mod:`jaxfit.gravity.rotation`: ``v_bar^2``, ``v_model``, ``v_flat`` and the sigma gate;
- :mod:`jaxfit.gravity.params`: the parameters (names, defaults, bounds, units);
- :mod:`jaxfit.gravity.units`: Newton's constant in kpc km^2 s^-2 Msun^-1.
"""

from jaxfit.constants import GM_SUN_M3_S2, KPC_M
from jaxfit.gravity.empirical import (
    cluster_kernel,
    empirical_kernel,
    empirical_multiplier,
    g_bar_si,
    orbital_window,
    sigma_gravity_kernel,
)
from jaxfit.gravity.kernel import (
    DEFAULT_CONFIG,
    DERIVATIVES,
    GL_PANELS,
    NORMALIZATIONS,
    RULES,
    KernelConfig,
    burr_envelope,
    coherence_C_coh,
    geometry_W,
    kernel_K0,
    resonance_C_res,
    resonance_quality,
    spectrum_P,
    theory_kernel,
    theory_kernel_points,
)
from jaxfit.gravity.params import (
    EMPIRICAL_DEFAULTS,
    RESEARCH_MW_EMPIRICAL,
    THEORY_BOUNDS,
    THEORY_DEFAULTS,
    THEORY_PARAMS,
)
from jaxfit.gravity.rotation import sigma_gate, v_bar_squared, v_flat, v_model
from jaxfit.gravity.units import G_NEWTON, KMS2_PER_KPC_TO_SI

__all__ = [
    "DEFAULT_CONFIG", "DERIVATIVES", "EMPIRICAL_DEFAULTS", "GL_PANELS", "GM_SUN_M3_S2",
    "G_NEWTON", "KMS2_PER_KPC_TO_SI", "KPC_M", "NORMALIZATIONS", "RESEARCH_MW_EMPIRICAL",
    "RULES", "THEORY_BOUNDS", "THEORY_DEFAULTS", "THEORY_PARAMS", "KernelConfig",
    "burr_envelope", "cluster_kernel", "coherence_C_coh", "empirical_kernel",
    "empirical_multiplier", "g_bar_si", "geometry_W", "kernel_K0", "orbital_window",
    "resonance_C_res", "resonance_quality", "sigma_gate", "sigma_gravity_kernel",
    "spectrum_P", "theory_kernel", "theory_kernel_points", "v_bar_squared", "v_flat",
    "v_model",
]  # fmt: skip
