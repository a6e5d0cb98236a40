"""A Flax (nnx) CNN that detects lensing and subhalos in simulated flux + velocity maps.

The research question (spec ``lensing.md``): given a MaNGA-like source (an H-alpha flux map
and a velocity field, shape ``(2, N, N)``) lensed by a foreground SIS, can a small CNN tell

* ``"lensed"``: a lensed image from the unlensed source (easy; research: ~100 %),
* ``"subhalo"``: a smooth SIS from SIS + subhalo (research: ~100 % with a strong, clean
  subhalo from flux; velocity alone near chance),
* ``"kinematic"``: the "kinematic advantage" design, where both classes share the flux map
  and differ only in velocity,

and does the velocity channel add anything beyond the flux morphology? Channel modes
``"both"``, ``"flux_only"`` and ``"vel_only"`` zero the unused channel.

Design:

* Images are simulated **on the device inside the jitted train step** by
  :func:`jaxfit.lensing.model.simulate_batch` from the training galaxies with a fresh key
  every step (``fold_in(train_key, step)``): simulate + channel mode + random rot90/flip
  augmentation + forward + backward + Adam update are one compiled function, with no host
  round trip. Validation and test sets are simulated once per run, from their own
  galaxies, with fixed keys derived from the seed. The step is compiled once per
  architecture, batch size, experiment, augmentation and static simulator setting (image
  size, subhalo kind, PSF / noise switches): the simulator's numbers, the learning rate (in
  the Adam state, ``optax.inject_hyperparams``), the seed and the channel mode are
  arguments, so a sweep over them compiles nothing new.
* Galaxies are split by source (the research's split by plateifu: 4 train / 1 val / 1 test
  for 6 galaxies), so the test score measures generalisation to an unseen galaxy.
* Precision: the CNN and its simulated inputs run in **float32** (``param_dtype`` float32,
  inputs cast to float32, sources passed as float32) even though importing jaxfit switches
  JAX to 64-bit for the physics domains. Metrics are reduced in float64 numpy on the host.
* The step is ``jax.jit`` over the pure state of ``nnx.split((model, optimizer))``, merged
  inside the traced function: the functional form of ``nnx.jit`` that Flax recommends for
  tight training loops (no per-call graph traversal in Python).

Results: ``metrics.json`` (per-epoch metrics, final test metrics, throughput and a
:func:`jaxfit.core.provenance.run_record`) and ``checkpoint.npz`` (the model state; reload
with :func:`load_checkpoint`) are written atomically after every epoch; :func:`sweep` writes
one CSV row per training run and a PNG.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxfit.core.io import atomic_write_bytes, save_figure, write_csv, write_json
from jaxfit.core.progress import progress_bar
from jaxfit.core.provenance import run_record
from jaxfit.lensing.model import LensSimConfig, SimParams, sim_params, simulate_batch

EXPERIMENTS = ("lensed", "subhalo", "kinematic")
CHANNEL_MODES = ("both", "flux_only", "vel_only")
ARCHS = ("research", "deep")

_CHANNEL_WEIGHTS = {"both": (1.0, 1.0), "flux_only": (1.0, 0.0), "vel_only": (0.0, 1.0)}
_CHECKPOINT_FORMAT = "jaxfit.lensing.cnn/1"
_EVAL_CHUNK = 256


# ----------------------------------------------------------------------------- models


class ResearchCNN(nnx.Module):
    """The research architecture (float32).

    ``Conv(2->16, 3x3, pad 1) ReLU MaxPool2 Conv(16->32, 3x3, pad 1) ReLU
    global-average-pool Linear(32->2)``; 5,010 parameters for 2 input channels
    (2*16*9+16 + 16*32*9+32 + 32*2+2).

    Input: images ``(n, C, H, W)`` (NCHW, as simulated); output: logits ``(n, 2)``.
    Works for any H, W >= 2 (the pooling is global).
    """

    def __init__(self, rngs: nnx.Rngs, in_channels: int = 2, n_classes: int = 2):
        pad = ((1, 1), (1, 1))
        self.conv1 = nnx.Conv(in_channels, 16, (3, 3), padding=pad, param_dtype=jnp.float32,
                              rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, (3, 3), padding=pad, param_dtype=jnp.float32, rngs=rngs)
        self.head = nnx.Linear(32, n_classes, param_dtype=jnp.float32, rngs=rngs)

    def __call__(self, x):
        x = jnp.transpose(jnp.asarray(x, jnp.float32), (0, 2, 3, 1))  # NCHW -> NHWC
        x = nnx.relu(self.conv1(x))
        x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nnx.relu(self.conv2(x))
        x = jnp.mean(x, axis=(1, 2))
        return self.head(x)


class DeepCNN(nnx.Module):
    """A deeper option (float32): four conv blocks with batch normalisation.

    ``[Conv3x3 -> BatchNorm -> ReLU -> MaxPool2] x 3`` with ``widths[:3]`` channels, then
    ``Conv3x3 -> BatchNorm -> ReLU`` with ``widths[3]``, global-average-pool,
    ``Linear(widths[3] -> 64) ReLU Linear(64 -> 2)``. Default widths (16, 32, 64, 64).
    BatchNorm uses batch statistics in training (:meth:`train`) and running averages in
    evaluation (:meth:`eval`); the running averages are part of the checkpoint.
    Needs H, W >= 8 (three poolings).
    """

    def __init__(self, rngs: nnx.Rngs, in_channels: int = 2, n_classes: int = 2,
                 widths: tuple[int, int, int, int] = (16, 32, 64, 64)):
        pad = ((1, 1), (1, 1))
        chans = (in_channels, *widths)
        self.convs = nnx.List([
            nnx.Conv(chans[i], chans[i + 1], (3, 3), padding=pad, use_bias=False,
                     param_dtype=jnp.float32, rngs=rngs)
            for i in range(len(widths))
        ])
        self.norms = nnx.List([
            nnx.BatchNorm(w, momentum=0.9, param_dtype=jnp.float32, rngs=rngs) for w in widths
        ])
        self.fc = nnx.Linear(widths[-1], 64, param_dtype=jnp.float32, rngs=rngs)
        self.head = nnx.Linear(64, n_classes, param_dtype=jnp.float32, rngs=rngs)

    def __call__(self, x):
        x = jnp.transpose(jnp.asarray(x, jnp.float32), (0, 2, 3, 1))
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = nnx.relu(norm(conv(x)))
            if i < last:
                x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = jnp.mean(x, axis=(1, 2))
        return self.head(nnx.relu(self.fc(x)))


def make_model(arch: str = "research", rngs: nnx.Rngs | int = 0) -> nnx.Module:
    """Build ``ResearchCNN`` (``arch="research"``) or ``DeepCNN`` (``"deep"``).

    Args:
        arch: ``"research"`` or ``"deep"``.
        rngs: an ``nnx.Rngs`` or an integer seed for the parameter initialisation.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch: expected one of {ARCHS}, got {arch!r}")
    if not isinstance(rngs, nnx.Rngs):
        rngs = nnx.Rngs(params=int(rngs))
    return ResearchCNN(rngs) if arch == "research" else DeepCNN(rngs)


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters (``nnx.Param`` leaves) of ``model``."""
    return int(sum(np.size(v) for v in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))))


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
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"experiment: expected one of {EXPERIMENTS}, got {self.experiment!r}")
        if self.channels not in CHANNEL_MODES:
            raise ValueError(f"channels: expected one of {CHANNEL_MODES}, got {self.channels!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch: expected one of {ARCHS}, got {self.arch!r}")
        for name in ("batch_size", "epochs", "n_train", "n_val", "n_test"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a positive finite number, got {self.lr!r}")
        if not isinstance(self.sim, LensSimConfig):
            raise ValueError(f"sim: expected a LensSimConfig, got {type(self.sim).__name__}")
        split = tuple(float(w) for w in self.split)
        if len(split) != 3 or not all(math.isfinite(w) and w > 0 for w in split):
            raise ValueError(f"split: expected three positive weights, got {self.split!r}")
        object.__setattr__(self, "split", split)

    def to_dict(self) -> dict:
        """Plain dict (``sim`` nested) for JSON."""
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained model (in evaluation mode).
        history: one dict per epoch: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_accuracy``, ``val_roc_auc``, ``epoch_s``.
        test: ``{"accuracy", "roc_auc", "loss", "n"}`` on the held-out galaxies.
        throughput: ``first_step_s`` (trace + compile + run of the first step),
            ``warm_steps_per_s`` and ``warm_images_per_s`` (steps after the first,
            evaluation excluded), ``n_steps``, ``batch_size``, ``device``.
        split: galaxy ids per split (``train``, ``val``, ``test``).
        config: the :class:`TrainConfig`.
        test_labels, test_scores: labels and scores (logit difference) of the test set.
        paths: files written (``metrics``, ``checkpoint``) when ``out_dir`` was given.
    """

    model: nnx.Module
    history: list[dict]
    test: dict
    throughput: dict
    split: dict
    config: TrainConfig
    test_labels: np.ndarray
    test_scores: np.ndarray
    paths: dict = field(default_factory=dict)


# ----------------------------------------------------------------- data-side helpers


def apply_channel_mode(images, channels: str):
    """Zero the unused channel: ``"flux_only"`` zeroes channel 1, ``"vel_only"`` channel 0.

    Args:
        images: ``(n, 2, N, N)`` (flux, velocity).
        channels: ``"both"``, ``"flux_only"`` or ``"vel_only"``.
    """
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels: expected one of {CHANNEL_MODES}, got {channels!r}")
    if channels == "both":
        return images
    weights = jnp.asarray(_CHANNEL_WEIGHTS[channels], dtype=images.dtype)
    return images * weights[None, :, None, None]


def augment_batch(key, images):
    """Random element of the symmetry group of the square (rot90s and flips) per image.

    Each image is independently transposed, flipped vertically and flipped horizontally
    with probability 1/2 each; the 8 combinations are exactly the 4 rotations by 90 degrees
    and their mirror images, equally likely. Pixels are permuted, never changed, and both
    channels move together (the velocity is a line-of-sight scalar, so it needs no sign
    change). Vectorised over the batch (no Python loop over images).

    Args:
        key: a JAX PRNG key.
        images: ``(n, C, N, N)`` square images.
    """
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images: expected (n, C, N, N) square images, got {images.shape}")
    n = images.shape[0]
    flips = jax.random.bernoulli(key, 0.5, (3, n, 1, 1, 1))
    x = jnp.where(flips[0], jnp.swapaxes(images, -1, -2), images)
    x = jnp.where(flips[1], jnp.flip(x, axis=-2), x)
    return jnp.where(flips[2], jnp.flip(x, axis=-1), x)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) formula.

    ``AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0)`` with ``R_1`` the sum of the (tie-averaged)
    ranks of the positive scores: the probability that a random positive scores above a
    random negative, ties counting 1/2. ``nan`` when one class is absent.

    Args:
        labels: ``(n,)`` in {0, 1}.
        scores: ``(n,)`` finite scores, larger meaning "class 1".
    """
    from scipy.stats import rankdata

    y = np.asarray(labels).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores: shapes differ, {y.shape} vs {s.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels: expected values in {0, 1}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: expected finite values")
    pos = y == 1
    n1 = int(pos.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def classification_metrics(logits, labels) -> dict:
    """Mean cross-entropy, accuracy and ROC AUC (score = logit_1 - logit_0), float64 numpy."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    zmax = z.max(axis=1, keepdims=True)
    log_norm = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    loss = float(np.mean(log_norm - z[np.arange(y.size), y]))
    accuracy = float(np.mean(np.argmax(z, axis=1) == y))
    score = z[:, 1] - z[:, 0]
    return {"loss": loss, "accuracy": accuracy, "roc_auc": roc_auc(y, score), "n": int(y.size)}


def split_galaxies(n_sources: int, weights=(4.0, 1.0, 1.0)) -> tuple[np.ndarray, ...]:
    """Indices of the (train, val, test) galaxies, in the order the sources were given.

    ``n_val = max(1, round(S w_val / sum w))``, likewise ``n_test``, and the train split
    takes the rest (at least one galaxy). 6 galaxies with the default weights: 4 / 1 / 1.

    Raises:
        ValueError: fewer than 3 galaxies.
    """
    if n_sources < 3:
        raise ValueError(
            f"sources: the split by galaxy needs at least 3 galaxies (train/val/test), "
            f"got {n_sources}"
        )
    w = np.asarray(weights, dtype=np.float64)
    n_val = max(1, int(round(n_sources * w[1] / w.sum())))
    n_test = max(1, int(round(n_sources * w[2] / w.sum())))
    while n_sources - n_val - n_test < 1:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    n_train = n_sources - n_val - n_test
    idx = np.arange(n_sources)
    return idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]


def _check_sources(sources, source_ids, config: TrainConfig):
    arr = np.asarray(sources)
    if arr.ndim != 4 or arr.shape[1] != 2 or min(arr.shape[2:]) < 2:
        raise ValueError(f"sources: expected shape (S, 2, H, W), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
        raise ValueError("sources: expected finite floating-point values")
    if source_ids is None:
        source_ids = [f"source{i}" for i in range(arr.shape[0])]
    source_ids = [str(s) for s in source_ids]
    if len(source_ids) != arr.shape[0]:
        raise ValueError(
            f"source_ids: expected {arr.shape[0]} ids (one per source), got {len(source_ids)}"
        )
    if len(set(source_ids)) != len(source_ids):
        raise ValueError("source_ids: ids must be unique")
    parts = split_galaxies(arr.shape[0], config.split)
    split = {name: [source_ids[i] for i in p] for name, p in zip(("train", "val", "test"), parts,
                                                                   strict=True)}
    return arr.astype(np.float32), parts, split


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
def _train_step(state, train_key, step, sources, channel_weights, sim: SimParams, *,
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
    x = x.astype(jnp.float32) * channel_weights[None, :, None, None]
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
def _simulate_fixed(key, sources, channel_weights, sim, experiment, n):
    x, y, _ = simulate_batch(key, sources, sim, n, experiment=experiment)
    return x.astype(jnp.float32) * channel_weights[None, :, None, None], y


def _channel_weights(channels: str):
    return jnp.asarray(_CHANNEL_WEIGHTS[channels], dtype=jnp.float32)


def _simulate_eval(key, sources, config: TrainConfig, n: int):
    return _simulate_fixed(key, sources, _channel_weights(config.channels),
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


# ------------------------------------------------------------------------ checkpoints


def save_checkpoint(path, model: nnx.Module, config: TrainConfig) -> Path:
    """Write the model state (parameters and batch statistics) as ``.npz``, atomically.

    Keys are the state paths joined by ``/``; ``__meta__`` holds the format, the
    architecture and the training config as JSON.
    """
    flat = {"/".join(map(str, k)): np.asarray(v.get_value())
            for k, v in nnx.to_flat_state(nnx.state(model))}
    meta = {"format": _CHECKPOINT_FORMAT, "arch": config.arch, "config": config.to_dict()}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.asarray(json.dumps(meta, default=str)), **flat)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, config: TrainConfig | str) -> nnx.Module:
    """Rebuild the model of ``config.arch`` and restore the state saved by :func:`train`.

    Args:
        path: a ``checkpoint.npz`` written by :func:`save_checkpoint` / :func:`train`.
        config: the run's :class:`TrainConfig` (or just the architecture name).

    Returns:
        The restored model, in evaluation mode.

    Raises:
        ValueError: not a jaxfit CNN checkpoint, another architecture, or missing /
            unexpected / wrongly shaped arrays.
    """
    arch = config if isinstance(config, str) else config.arch
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"checkpoint {path}: cannot read ({exc})") from exc
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"checkpoint {path}: no jaxfit CNN metadata") from exc
    if meta.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path}: unknown format {meta.get('format')!r}")
    if meta.get("arch") != arch:
        raise ValueError(
            f"checkpoint {path}: architecture {meta.get('arch')!r}, config asks {arch!r}")
    model = make_model(arch, nnx.Rngs(params=0))
    state = nnx.state(model)
    flat = dict(nnx.to_flat_state(state))
    names = {"/".join(map(str, k)): k for k in flat}
    if set(names) != set(arrays):
        missing = sorted(set(names) - set(arrays))
        extra = sorted(set(arrays) - set(names))
        raise ValueError(f"checkpoint {path}: missing {missing}, unexpected {extra}")
    for name, k in names.items():
        variable = flat[k]
        value = arrays[name]
        if value.shape != np.shape(variable.get_value()):
            raise ValueError(f"checkpoint {path}: {name} has shape {value.shape}, "
                             f"expected {np.shape(variable.get_value())}")
        variable.set_value(jnp.asarray(value, dtype=variable.get_value().dtype))
    nnx.update(model, state)
    model.eval()
    return model


# ----------------------------------------------------------------------------- train


def train(config: TrainConfig, sources, source_ids=None, out_dir=None,
          progress: bool = True) -> TrainResult:
    """Train the CNN on simulations generated on the device; evaluate on held-out galaxies.

    Args:
        config: the :class:`TrainConfig`.
        sources: ``(S, 2, H, W)`` source tensors (flux, velocity) over ``[-1, 1]^2``,
            ``S >= 3``; cast to float32. Images have ``config.sim.n_pix`` pixels whatever
            the source resolution (the simulator samples the source bilinearly).
        source_ids: ``S`` unique names (e.g. plateifu); default ``source0``, ``source1``...
        out_dir: if given, ``metrics.json`` and ``checkpoint.npz`` are (re)written there
            atomically after every epoch.
        progress: show a progress bar over the training steps (silenced by ``--quiet``).

    Returns:
        :class:`TrainResult` with per-epoch metrics, test metrics and steps/s.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config: expected a TrainConfig, got {type(config).__name__}")
    src, (i_train, i_val, i_test), split = _check_sources(sources, source_ids, config)
    train_src = jnp.asarray(src[i_train])
    val_src, test_src = jnp.asarray(src[i_val]), jnp.asarray(src[i_test])

    graphdef, state, train_step, predict = _build(config)
    train_key, val_key, test_key = _keys(config.seed)
    weights = _channel_weights(config.channels)
    x_val, y_val = _simulate_eval(val_key, val_src, config, config.n_val)
    y_val = np.asarray(y_val)

    steps_per_epoch = -(-config.n_train // config.batch_size)
    n_steps = steps_per_epoch * config.epochs
    out_dir = Path(out_dir) if out_dir is not None else None
    paths = {}
    if out_dir is not None:
        paths = {"metrics": out_dir / "metrics.json", "checkpoint": out_dir / "checkpoint.npz"}
    seeds = {"seed": config.seed, "train_key": "fold_in(key(seed), 0), then fold_in(step)",
             "val_key": "fold_in(key(seed), 1)", "test_key": "fold_in(key(seed), 2)"}

    history: list[dict] = []
    first_step_s = None
    warm_time = 0.0
    step = 0
    test = None
    throughput: dict = {}

    def record():
        return {
            "config": config.to_dict(),
            "split": split,
            "steps_per_epoch": steps_per_epoch,
            "epochs": history,
            "test": test,
            "throughput": throughput,
            "provenance": run_record(seeds=seeds, timings=throughput),
        }

    with progress_bar(n_steps, f"train {config.experiment}/{config.channels}",
                      enabled=progress) as advance:
        for epoch in range(config.epochs):
            t_epoch = time.perf_counter()
            losses = []
            t_warm = None
            for _ in range(steps_per_epoch):
                t0 = time.perf_counter()
                state, loss = train_step(state, train_key, step, train_src, weights)
                if step == 0:
                    loss.block_until_ready()
                    first_step_s = time.perf_counter() - t0
                elif t_warm is None:
                    t_warm = t0
                if losses:
                    losses[-1].block_until_ready()  # keep one step in flight
                losses.append(loss)
                step += 1
                advance(1)
            train_loss = float(np.mean(np.asarray(jnp.stack(losses))))
            if t_warm is not None:
                warm_time += time.perf_counter() - t_warm
            val = classification_metrics(_predict_logits(predict, state, x_val), y_val)
            history.append({
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
                "val_roc_auc": val["roc_auc"],
                "epoch_s": time.perf_counter() - t_epoch,
            })
            throughput = _throughput(first_step_s, warm_time, step, config)
            if out_dir is not None:
                model, _ = nnx.merge(graphdef, state)
                save_checkpoint(paths["checkpoint"], model, config)
                write_json(paths["metrics"], record())

    x_test, y_test = _simulate_eval(test_key, test_src, config, config.n_test)
    test_logits = _predict_logits(predict, state, x_test)
    y_test = np.asarray(y_test)
    test = classification_metrics(test_logits, y_test)
    if out_dir is not None:
        write_json(paths["metrics"], record())
    model, _ = nnx.merge(graphdef, state)
    model.eval()
    return TrainResult(
        model=model, history=history, test=test, throughput=throughput, split=split,
        config=config, test_labels=y_test,
        test_scores=test_logits[:, 1] - test_logits[:, 0], paths=paths,
    )


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
    src, (i_train, _, _), _ = _check_sources(sources, None, config)
    _, state, train_step, _ = _build(config)
    train_key, _, _ = _keys(config.seed)
    weights, losses = _channel_weights(config.channels), []
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
    if n_steps < 2:
        raise ValueError(f"n_steps: expected at least 2, got {n_steps}")
    src, (i_train, _, _), _ = _check_sources(sources, None, config)
    train_src = jnp.asarray(src[i_train])
    _, state, train_step, _ = _build(config)
    train_key, _, _ = _keys(config.seed)
    t0 = time.perf_counter()
    weights = _channel_weights(config.channels)
    state, loss = train_step(state, train_key, 0, train_src, weights)
    loss.block_until_ready()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for step in range(1, n_steps):
        state, loss = train_step(state, train_key, step, train_src, weights)
    loss.block_until_ready()
    return _throughput(first, time.perf_counter() - t0, n_steps, config)


# ----------------------------------------------------------------------------- sweep

_SIM_FIELDS = tuple(f.name for f in dataclasses.fields(LensSimConfig))
_TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "sim")


def sweep(grid: dict, base: TrainConfig, sources, out_dir, source_ids=None,
          progress: bool = True):
    """Train once per point of the Cartesian product of ``grid``; one CSV row per run.

    Args:
        grid: ``{name: [values...]}``; names are ``LensSimConfig`` fields
            (``theta_E_sub_factor``, ``psf_sigma``, ``flux_noise_sigma``,
            ``vel_noise_sigma``, ...) or ``TrainConfig`` fields (``channels``, ``seed``,
            ``experiment``, ...).
        base: the :class:`TrainConfig` every run starts from.
        sources, source_ids: as in :func:`train`.
        out_dir: gets ``sweep.csv`` (rewritten after every run), ``sweep.png``
            (accuracy against ``theta_E_sub_factor``, or the first numeric grid name, one
            line per channel mode and other grid values) and ``run_000/``... with each
            run's metrics and checkpoint.

    Returns:
        pandas DataFrame: one row per run with ``run``, the grid values, ``accuracy``,
        ``roc_auc``, ``loss`` (test), ``val_accuracy`` (last epoch), ``steps_per_s``,
        ``seed`` and every config field.
    """
    import pandas as pd

    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid: expected a non-empty dict {name: [values]}")
    valid = _SIM_FIELDS + _TRAIN_FIELDS
    for name, values in grid.items():
        if name not in valid:
            raise ValueError(f"grid: unknown name {name!r}; valid names: {sorted(valid)}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValueError(f"grid[{name!r}]: expected a non-empty list of values")
    names = list(grid)
    out_dir = Path(out_dir)
    rows = []
    for i, combo in enumerate(itertools.product(*(list(grid[n]) for n in names))):
        point = dict(zip(names, combo, strict=True))
        sim = dataclasses.replace(base.sim, **{k: v for k, v in point.items() if k in _SIM_FIELDS})
        config = dataclasses.replace(
            base, sim=sim, **{k: v for k, v in point.items() if k in _TRAIN_FIELDS})
        result = train(config, sources, source_ids, out_dir / f"run_{i:03d}", progress=progress)
        row = {"run": i, **point,
               "accuracy": result.test["accuracy"], "roc_auc": result.test["roc_auc"],
               "loss": result.test["loss"],
               "val_accuracy": result.history[-1]["val_accuracy"],
               "steps_per_s": result.throughput.get("warm_steps_per_s")}
        for k in _TRAIN_FIELDS:
            row.setdefault(k, getattr(config, k) if k != "split" else str(config.split))
        for k in _SIM_FIELDS:
            row.setdefault(k, getattr(config.sim, k))
        rows.append(row)
        frame = pd.DataFrame(rows)
        write_csv(out_dir / "sweep.csv", frame)
    _plot_sweep(frame, names, out_dir / "sweep.png")
    return frame


def _plot_sweep(frame, names, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    numeric = [n for n in names if n != "channels"
               and np.issubdtype(np.asarray(frame[n]).dtype, np.number)]
    x = "theta_E_sub_factor" if "theta_E_sub_factor" in names else (
        numeric[0] if numeric else "run")
    groups = [n for n in names if n != x]
    fig, ax = plt.subplots(figsize=(6, 4))
    grouped = frame.groupby(groups, sort=False) if groups else [((), frame)]
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{g}={v}" for g, v in zip(groups, key, strict=True)) or "all"
        part = part.sort_values(x)
        ax.plot(part[x], part["accuracy"], marker="o", label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(x)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.0, 1.05)
    ax.legend(fontsize=7)
    ax.set_title("CNN test accuracy")
    save_figure(fig, path)
