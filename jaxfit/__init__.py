"""jaxfit: differentiable, batched modeling for research physics on one JAX core.

Importing jaxfit applies the precision policy of :mod:`jaxfit.core.precision`:
float64 is switched on for physics unless the environment variable
``JAXFIT_PRECISION=float32`` asks otherwise (any other value keeps float64 at import;
the CLI then stops with one line naming it, and ``require_float64`` raises it). It also
switches on the persistent compilation cache in the user's cache folder
(:mod:`jaxfit.core.compile_cache`): ``JAXFIT_COMPILE_CACHE=0`` keeps it off,
``JAXFIT_COMPILE_CACHE=DIR`` moves it, and
``jaxfit.core.compile_cache.disable_compile_cache()`` switches it off after import.
"""

from jaxfit.core.compile_cache import enable_compile_cache
from jaxfit.core.precision import apply_default_policy

__version__ = "0.1.0"

apply_default_policy()
enable_compile_cache()
