"""GPU parity: every domain's batched workload computed on the GPU equals the CPU result.

Runs only where JAX sees a GPU (skips cleanly elsewhere). Tolerances, as documented in the
README: float64 physics within 1e-10 relative; the float32 lensing simulator within 1e-4
absolute on pixel values in [-1.5, 1.5] (the same random draws, float32 sampling and blur
summed in another order); CNN training losses within 1e-2 relative after 3 steps (cuDNN
picks other convolution algorithms and float32 matmuls may use TF32 on the GPU).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401

try:
    GPU = jax.devices("gpu")[0]
except RuntimeError:
    GPU = None

pytestmark = pytest.mark.skipif(GPU is None, reason="no GPU present")


def on(platform, fn):
    """Run ``fn`` with jaxfit's work on ``platform`` (core meshes follow the default device)."""
    with jax.default_device(jax.devices(platform)[0]):
        return jax.tree_util.tree_map(np.asarray, fn())


def both(fn):
    return on("cpu", fn), on("gpu", fn)


def test_cosmo_chi2_batch_float64():
    from jaxfit.core.parallel import map_batched
    from jaxfit.cosmo.data import load_bao, load_cmb_priors
    from jaxfit.cosmo.fit import make_objective
    from jaxfit.cosmo.model import get_model

    chi2 = make_objective("lcdm", {"cmb": load_cmb_priors(), "bao": load_bao("desi_dr2")})
    rng = np.random.default_rng(0)
    batch = {k: np.full(1000, v) for k, v in get_model("lcdm").spec.defaults.items()}
    batch["H0"], batch["Om0"] = rng.uniform(64, 72, 1000), rng.uniform(0.27, 0.35, 1000)
    cpu, gpu = both(lambda: map_batched(chi2, batch, progress=False))
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_leptons_chi2_batch_float64():
    from jaxfit.core.parallel import map_batched
    from jaxfit.leptons import fit as lf

    rng = np.random.default_rng(1)
    batch = {k: rng.uniform(*lf.LEPTON_BOUNDS[k.rsplit("_", 1)[1]][k.rsplit("_", 1)[0]], 1000)
             for k in lf.LEPTON_PARAMS}
    batch |= {"beta": rng.uniform(2.9, 3.2, 1000), "w": np.full(1000, lf.DEFAULT_W)}
    chi2 = lf.mass_chi2()
    cpu, gpu = both(lambda: map_batched(chi2, batch, progress=False))
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_leptons_multistart_fit_best_chi2():
    from jaxfit.leptons import fit as lf

    cpu, gpu = both(lambda: lf.fit_fixed(n_starts=16, progress=False).chi2)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_gravity_sparc_value_and_gradient_float64():
    from jaxfit.gravity import fit as gf
    from jaxfit.gravity.data import make_sparc_batch
    from jaxfit.gravity.model import THEORY_DEFAULTS

    rng = np.random.default_rng(2)
    curves = []
    for g in range(20):
        R = np.sort(rng.uniform(0.3, 25.0, 8 + g % 7))
        v = 150.0 * (1 - np.exp(-R / 3.0))
        curves.append({"name": f"G{g}", "Rad": R, "Vobs": v + rng.normal(0, 5, R.size),
                       "errV": np.full(R.size, 5.0), "Vgas": 0.3 * v, "Vdisk": 0.8 * v,
                       "Vbul": np.zeros(R.size), "SBdisk": np.ones(R.size),
                       "SBbul": np.zeros(R.size), "distance_Mpc": 10.0})
    batch = make_sparc_batch(curves)

    def run():
        points = gf.sparc_points(batch)
        value, grad = jax.jit(jax.value_and_grad(
            lambda p: gf.sparc_metrics(p, points)["L_SPARC"]))(dict(THEORY_DEFAULTS))
        return [value] + [grad[k] for k in sorted(grad)]

    cpu, gpu = both(run)
    np.testing.assert_allclose(np.array(gpu), np.array(cpu), rtol=1e-10)


def test_cosmo_fit_float64(tmp_path):
    from jaxfit.cosmo.fit import optimize_parameters
    from jaxfit.cosmo.store import OptimizedParameterStore

    def run():
        fit = optimize_parameters("lcdm", "cmb,bao", store=OptimizedParameterStore(tmp_path),
                                  progress=False, dry_run=True)
        return np.array([fit.final_chi2])

    cpu, gpu = both(run)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_lensing_images_float32():
    from jaxfit.lensing.data import synthetic_sources
    from jaxfit.lensing.model import LensSimConfig, simulate_batch

    src = jnp.asarray(synthetic_sources(4, seed=0, n_pix=64), jnp.float32)
    cpu, gpu = both(lambda: simulate_batch(jax.random.key(0), src, LensSimConfig(), 256,
                                           experiment="subhalo")[0])
    np.testing.assert_allclose(gpu, cpu, atol=1e-4, rtol=0)


def test_cnn_training_losses_float32():
    from jaxfit.lensing.cnn import TrainConfig, training_losses
    from jaxfit.lensing.data import synthetic_sources

    config = TrainConfig(experiment="subhalo")
    sources = synthetic_sources(6, seed=0, n_pix=config.sim.n_pix)
    cpu, gpu = both(lambda: training_losses(config, sources, n_steps=3))
    np.testing.assert_allclose(gpu, cpu, rtol=1e-2)
