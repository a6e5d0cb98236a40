"""The shared autodiff core of jaxfit; it knows no physics.

Modules: params (parameter sets and transforms), likelihood (Gaussian chi2, analytic
profiling of linear nuisances), quadrature (fixed-node rules), optimize (minimize,
multi-start, differential evolution), scan (profile likelihoods), uncertainty (Hessian
errors, unconstrained directions), diagnostics (fit status), sampling (numpyro NUTS,
resume), posterior (draws, netCDF/CSV, chain state), corner (corner plots), parallel
(chunking and sharding), provenance (run records), io (atomic result files), report (HTML index),
progress (progress bars), precision (float64 policy).
"""
