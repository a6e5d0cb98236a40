"""Training the subhalo CNN on images simulated on the device, tested on held-out galaxies.

* Images are simulated **on the device inside the jitted train step** by
  :func:`jaxfit.lensing.simulate.simulate_batch` from the training galaxies with a fresh key
  every step (``fold_in(train_key, step)``): simulate + channel mode + random rot90/flip
  augmentation + forward + backward + Adam update are one compiled function, with no host
  round trip. Validation and test sets are simulated once per run, from their own
  galaxies, with fixed keys derived from the seed. The step is compiled once per
  architecture, batch size, experiment, augmentation and static simulator setting (image
  size, subhalo kind, PSF / noise switches): the simulator's numbers, the learning rate (in
  the Adam state, ``optax.inject_hyperparams``), the seed and the channel mode are
  arguments, so a sweep over them compiles nothing new.
* Galaxies are split by source (:func:`jaxfit.lensing.batches.split_sources`), so the test
  score measures generalisation to an unseen galaxy.
* Precision: the CNN and its simulated inputs run in **float32** (sources passed as
  float32). Metrics are reduced in float64 numpy on the host (:mod:`jaxfit.lensing.metrics`).
* The step is ``jax.jit`` over the pure state of ``nnx.split((model, optimizer))``, merged
  inside the traced function: the functional form of ``nnx.jit`` that Flax recommends for
  tight training loops (no per-call graph traversal in Python).

Results: :func:`train` returns a :class:`~jaxfit.lensing.results.TrainResult`; with an
``out_dir`` it saves it after every epoch (``metrics.json`` with the per-epoch metrics, the
per-step training losses, the final test metrics with the chance verdict, throughput and a
:func:`jaxfit.core.provenance.run_record`; ``metrics.csv``, one row per epoch;
``metrics.png``, the loss curves, validation scores and test ROC curve) and writes the model
and Adam state with the run's progress to ``checkpoint.npz`` (reload the model with
:func:`~jaxfit.lensing.checkpoints.load_checkpoint`).

**Resuming.** ``train(config, sources, resume=folder)`` continues the run saved in
``folder`` from its last completed epoch, with its parameters, batch statistics and Adam
moments, up to ``config.epochs``. The training images of step ``i`` come from
``fold_in(train_key, i)`` whichever run takes that step, and the validation and test sets
from fixed keys, so ``N`` epochs then ``M`` more give the parameters, optimizer state and
metrics of one run of ``N + M`` epochs (bit for bit on the CPU).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxfit.core import checks
from jaxfit.core.progress import progress_bar
from jaxfit.core.provenance import run_record
from jaxfit.lensing.batches import CHANNEL_MODES, augment_batch, channel_weights, split_sources
from jaxfit.lensing.checkpoints import (
    CHECKPOINT_NAME,
    checkpoint_config,
    load_training_state,
    save_checkpoint,
)
from jaxfit.lensing.cnn import ARCHS, make_model
from jaxfit.lensing.metrics import classification_metrics
from jaxfit.lensing.params import EXPERIMENTS, LensSimConfig, SimParams, sim_params
from jaxfit.lensing.results import TrainResult
from jaxfit.lensing.simulate import simulate_batch

__all__ = ["TrainConfig", "train", "training_losses", "training_throughput"]

_EVAL_CHUNK = 256  # images per compiled evaluation call


# ----------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainConfig:
    """One training run (frozen, hashable).

    Attributes:
        experiment: ``"lensed"``, ``"subhalo"`` or ``"kinematic"`` (see the module doc).
        channels: ``"both"``, ``"flux_only"`` or ``"vel_only"`` (the unused channel zeroed).
        arch: ``"research"`` or ``"deep"`` (:func:`make_model`).
        lr: Adam learning rate.
        batch_size: images per training step (simulated on the device each step).
        epochs: number of epochs; an epoch is ``ceil(n_train / batch_size)`` steps.
        n_train: training images per epoch (fresh simulations each step, never reused).
        n_val, n_test: size of the fixed validation / test sets.
        seed: seeds the initialisation, the training stream and the val/test sets.
        augment: random rot90 + flips (the 8 symmetries of the square) per training image.
        sim: the :class:`~jaxfit.lensing.model.LensSimConfig` of the simulator.
        split: relative (train, val, test) weights of the split by galaxy; 6 galaxies
            give 4 / 1 / 1, and every split gets at least one galaxy.
    """

    experiment: str = "lensed"
    channels: str = "both"
    arch: str = "research"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    n_train: int = 4000
    n_val: int = 800
    n_test: int = 800
    seed: int = 42
    augment: bool = True
    sim: LensSimConfig = field(default_factory=LensSimConfig)
    split: tuple[float, float, float] = (4.0, 1.0, 1.0)

    def __post_init__(self):
        checks.one_of(self.experiment, "experiment", EXPERIMENTS)
        checks.one_of(self.channels, "channels", CHANNEL_MODES)
        checks.one_of(self.arch, "arch", ARCHS)
        for name in ("batch_size", "epochs", "n_train", "n_val", "n_test"):
            object.__setattr__(self, name, checks.count(getattr(self, name), name))
        object.__setattr__(self, "lr", checks.real(self.lr, "lr", positive=True))
        checks.instance(self.sim, "sim", LensSimConfig)
        split = tuple(self.split)
        if len(split) != 3:
            raise ValueError(f"split must be three positive weights, got {self.split!r}")
        object.__setattr__(self, "split", tuple(checks.real(w, "each split weight",
                                                            positive=True) for w in split))

    def to_dict(self) -> dict:
        """Plain dict (``sim`` nested) for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> TrainConfig:
        """The config of :meth:`to_dict` (e.g. read back from a checkpoint)."""
        checks.instance(record, "config record", dict)
        return cls(**{**record, "sim": LensSimConfig(**record["sim"])})


# ----------------------------------------------------------------- compiled functions


def _loss(model, x, y):
    logits = model(x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


# Adam with the learning rate in its state (optax.inject_hyperparams) instead of in the
# transformation: the optimizer, hence the graph definition of (model, optimizer), is then the
# same object for every run of an architecture, so the compiled step below is reused across
# learning rates, seeds and simulator settings. b1, b2 and eps stay Python constants, so the
# update is the arithmetic of optax.adam(lr).
_ADAM = optax.inject_hyperparams(
    optax.adam, static_args=("b1", "b2", "eps", "eps_root", "mu_dtype", "nesterov"),
    hyperparam_dtype=jnp.float32,
)(learning_rate=1e-3)


@functools.partial(jax.jit,
                   static_argnames=("graphdef", "batch_size", "experiment", "augment"))
def _train_step(state, train_key, step, sources, weights, sim: SimParams, *,
                graphdef, batch_size: int, experiment: str, augment: bool):
    """simulate + channel mode + augment + forward + backward + Adam, one program.

    Everything that varies between runs of one architecture and batch size (the model and
    optimizer state with its learning rate, the keys, the sources, the channel weights and
    the simulator's numbers ``sim``) is an argument, so it is compiled once for all of them.
    """
    model, optimizer = nnx.merge(graphdef, state)
    model.train()
    key = jax.random.fold_in(train_key, step)
    k_sim, k_aug = jax.random.split(key)
    x, y, _ = simulate_batch(k_sim, sources, sim, batch_size, experiment=experiment)
    x = x.astype(jnp.float32) * weights[None, :, None, None]
    if augment:
        x = augment_batch(k_aug, x)
    loss, grads = nnx.value_and_grad(_loss)(model, x, y)
    optimizer.update(model, grads)
    return nnx.state((model, optimizer)), loss


@functools.partial(jax.jit, static_argnames="graphdef")
def _predict(state, x_chunks, *, graphdef):
    """Logits of ``(n_chunks, chunk, 2, N, N)`` images, evaluation mode, lax.map."""
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return jax.lax.map(model, x_chunks)


def _build(config: TrainConfig):
    """Fresh model + optimizer state (seeded, learning rate set) and the train / predict
    functions of the run (the module-level compiled ones with its static settings)."""
    model = make_model(config.arch, nnx.Rngs(params=config.seed))
    optimizer = nnx.Optimizer(model, _ADAM, wrt=nnx.Param)
    optimizer.opt_state.hyperparams["learning_rate"].set_value(
        jnp.asarray(config.lr, jnp.float32))
    graphdef, state = nnx.split((model, optimizer))
    # the simulator's numbers travel to the device once, not with every step
    sim = jax.device_put(sim_params(config.sim))
    train_step = functools.partial(_train_step, sim=sim, graphdef=graphdef,
                                   batch_size=config.batch_size,
                                   experiment=config.experiment, augment=bool(config.augment))
    predict = functools.partial(_predict, graphdef=graphdef)
    return graphdef, state, train_step, predict


@functools.partial(jax.jit, static_argnames=("experiment", "n"))
def _simulate_fixed(key, sources, weights, sim, experiment, n):
    x, y, _ = simulate_batch(key, sources, sim, n, experiment=experiment)
    return x.astype(jnp.float32) * weights[None, :, None, None], y


def _simulate_eval(key, sources, config: TrainConfig, n: int):
    return _simulate_fixed(key, sources, channel_weights(config.channels),
                           sim_params(config.sim), experiment=config.experiment, n=n)


def _predict_logits(predict, state, images) -> np.ndarray:
    n = images.shape[0]
    chunk = min(_EVAL_CHUNK, n)
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n
    if pad:
        images = jnp.concatenate([images, jnp.zeros((pad, *images.shape[1:]), images.dtype)])
    logits = predict(state, images.reshape(n_chunks, chunk, *images.shape[1:]))
    return np.asarray(logits).reshape(n_chunks * chunk, -1)[:n]


def _keys(seed: int):
    base = jax.random.key(seed)
    return jax.random.fold_in(base, 0), jax.random.fold_in(base, 1), jax.random.fold_in(base, 2)


# ----------------------------------------------------------------------------- train


def _sources_sha256(sources: np.ndarray, split: dict) -> str:
    """A fingerprint of the galaxies of a run (their float32 values and the split by id), so
    a run is resumed only on the data it was trained on."""
    digest = hashlib.sha256(json.dumps(split, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(sources, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _resume(path, config: TrainConfig, graphdef, state, fingerprint: str):
    """The training state and progress saved at ``path``, checked against this run."""
    saved = checkpoint_config(path)
    if dataclasses.replace(saved, epochs=config.epochs) != config:
        ours, theirs = config.to_dict(), saved.to_dict()
        differ = [k for k in ours if k != "epochs" and ours[k] != theirs[k]]
        raise ValueError(f"resume: the checkpoint {path} was trained with other settings "
                         f"({', '.join(differ)}); only epochs may change")
    model, optimizer = nnx.merge(graphdef, state)
    progress = load_training_state(path, model, optimizer)
    if progress["sources_sha256"] != fingerprint:
        raise ValueError(f"sources must be the galaxies the checkpoint {path} was trained on "
                         "(same values and ids)")
    if progress["epoch"] > config.epochs:
        raise ValueError(f"epochs must be at least the {progress['epoch']} epochs the "
                         f"checkpoint {path} has trained, got {config.epochs}")
    return nnx.state((model, optimizer)), progress


def train(config: TrainConfig, sources, source_ids=None, out_dir=None,
          progress: bool = True, resume=None) -> TrainResult:
    """Train the CNN on simulations generated on the device; evaluate on held-out galaxies.

    Args:
        config: the :class:`TrainConfig`.
        sources: ``(S, 2, H, W)`` source tensors (flux, velocity) over ``[-1, 1]^2``,
            ``S >= 3``; cast to float32. Images have ``config.sim.n_pix`` pixels whatever
            the source resolution (the simulator samples the source bilinearly).
        source_ids: ``S`` unique names (e.g. plateifu); default ``source0``, ``source1``...
        out_dir: if given, the result so far is saved there after every epoch
            (:meth:`TrainResult.save`: ``metrics.json``, ``.csv``, ``.png``) with the model
            and optimizer state in ``checkpoint.npz``, each file replaced atomically.
        progress: show a progress bar over the training steps (silenced by ``--quiet``).
        resume: a checkpoint written by an earlier call (``checkpoint.npz`` or its folder):
            training continues after its last epoch with its model and Adam state (module
            doc). Its config must equal ``config`` except ``epochs``, which must be at least
            the epochs it has done, and ``sources`` / ``source_ids`` must be the same.

    Returns:
        :class:`~jaxfit.lensing.results.TrainResult` with per-epoch metrics, per-step
        training losses, test metrics with the chance verdict and steps/s; after a resume
        its curves cover the whole run.
    """
    checks.instance(config, "config", TrainConfig)
    src, (i_train, i_val, i_test), split = split_sources(sources, source_ids, config.split)
    train_src = jnp.asarray(src[i_train])
    val_src, test_src = jnp.asarray(src[i_val]), jnp.asarray(src[i_test])

    graphdef, state, train_step, predict = _build(config)
    fingerprint = _sources_sha256(src, split)
    done = {"step": 0, "epoch": 0, "history": [], "step_losses": []}
    if resume is not None:
        state, done = _resume(resume, config, graphdef, state, fingerprint)
    train_key, val_key, test_key = _keys(config.seed)
    weights = channel_weights(config.channels)
    x_val, y_val = _simulate_eval(val_key, val_src, config, config.n_val)
    y_val = np.asarray(y_val)

    steps_per_epoch = -(-config.n_train // config.batch_size)
    seeds = {"seed": config.seed, "train_key": "fold_in(key(seed), 0), then fold_in(step)",
             "val_key": "fold_in(key(seed), 1)", "test_key": "fold_in(key(seed), 2)"}
    history: list[dict] = list(done["history"])
    step_losses: list[float] = list(done["step_losses"])
    step = done["step"]
    first_step_s = None
    warm_time = 0.0
    throughput: dict = {}
    paths: dict = {}

    def save(model, test=None, test_labels=None, test_scores=None) -> TrainResult:
        """The result so far, saved in ``out_dir`` when there is one."""
        result = TrainResult(
            model=model, history=list(history), step_losses=list(step_losses), test=test,
            throughput=throughput, split=split, config=config, test_labels=test_labels,
            test_scores=test_scores, paths=paths)
        if out_dir is not None:
            written = result.save(out_dir, provenance=run_record(seeds=seeds,
                                                                 timings=throughput))
            paths.update(metrics=written["json"], metrics_csv=written["csv"],
                         metrics_png=written["png"])
        return result

    n_steps = steps_per_epoch * (config.epochs - done["epoch"])
    with progress_bar(n_steps, f"train {config.experiment}/{config.channels}",
                      enabled=progress) as advance:
        for epoch in range(done["epoch"], config.epochs):
            t_epoch = time.perf_counter()
            losses = []
            t_warm = None
            for _ in range(steps_per_epoch):
                t0 = time.perf_counter()
                state, loss = train_step(state, train_key, step, train_src, weights)
                if first_step_s is None:
                    loss.block_until_ready()
                    first_step_s = time.perf_counter() - t0
                elif t_warm is None:
                    t_warm = t0
                if losses:
                    losses[-1].block_until_ready()  # keep one step in flight
                losses.append(loss)
                step += 1
                advance(1)
            epoch_losses = np.asarray(jnp.stack(losses), dtype=np.float64)
            step_losses.extend(epoch_losses.tolist())
            if t_warm is not None:
                warm_time += time.perf_counter() - t_warm
            val = classification_metrics(_predict_logits(predict, state, x_val), y_val)
            history.append({
                "epoch": epoch + 1,
                "train_loss": float(np.mean(epoch_losses)),
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
                "val_roc_auc": val["roc_auc"],
                "epoch_s": time.perf_counter() - t_epoch,
            })
            throughput = _throughput(first_step_s, warm_time, step - done["step"], config)
            if out_dir is not None:
                model, optimizer = nnx.merge(graphdef, state)
                paths["checkpoint"] = save_checkpoint(
                    Path(out_dir) / CHECKPOINT_NAME, model, optimizer, config,
                    {"step": step, "epoch": epoch + 1, "history": history,
                     "step_losses": step_losses, "split": split,
                     "sources_sha256": fingerprint})
                save(model)

    x_test, y_test = _simulate_eval(test_key, test_src, config, config.n_test)
    test_logits = _predict_logits(predict, state, x_test)
    y_test = np.asarray(y_test)
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return save(model, classification_metrics(test_logits, y_test), y_test,
                test_logits[:, 1] - test_logits[:, 0])


def _throughput(first_step_s, warm_time, n_steps, config) -> dict:
    warm_steps = n_steps - 1
    rate = warm_steps / warm_time if warm_steps > 0 and warm_time > 0 else None
    return {
        "first_step_s": first_step_s,
        "warm_steps_per_s": rate,
        "warm_images_per_s": rate * config.batch_size if rate else None,
        "n_steps": n_steps,
        "batch_size": config.batch_size,
        "device": str(jax.devices()[0].device_kind),
    }


def training_losses(config: TrainConfig, sources, n_steps: int = 3) -> np.ndarray:
    """The training losses of the first ``n_steps`` jitted train steps (no evaluation), as
    :func:`train` would take them; for checking that runs on several devices train the same
    network."""
    src, (i_train, _, _), _ = split_sources(sources, None, config.split)
    _, state, train_step, _ = _build(config)
    train_key, _, _ = _keys(config.seed)
    weights, losses = channel_weights(config.channels), []
    for step in range(n_steps):
        state, loss = train_step(state, train_key, step, jnp.asarray(src[i_train]), weights)
        losses.append(loss)
    return np.asarray(jnp.stack(losses))


def training_throughput(config: TrainConfig, sources, n_steps: int = 20) -> dict:
    """Time the jitted train step alone (no evaluation): first call vs warm steps/s.

    Uses the first galaxies of the split as ``train`` would. Returns
    ``{"first_step_s", "warm_steps_per_s", "warm_images_per_s", "n_steps", "batch_size",
    "device"}``; ``n_steps`` counts the first (compiling) step.
    """
    n_steps = checks.count(n_steps, "n_steps", minimum=2)
    src, (i_train, _, _), _ = split_sources(sources, None, config.split)
    train_src = jnp.asarray(src[i_train])
    _, state, train_step, _ = _build(config)
    train_key, _, _ = _keys(config.seed)
    t0 = time.perf_counter()
    weights = channel_weights(config.channels)
    state, loss = train_step(state, train_key, 0, train_src, weights)
    loss.block_until_ready()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for step in range(1, n_steps):
        state, loss = train_step(state, train_key, step, train_src, weights)
    loss.block_until_ready()
    return _throughput(first, time.perf_counter() - t0, n_steps, config)
