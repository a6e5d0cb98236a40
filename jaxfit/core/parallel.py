"""Chunking and sharding of batch axes over the local devices.

Every batched workload in jaxfit (grid points x starts of a scan, multi-starts, DE
populations, parameter batches, images) goes through :func:`map_batched`: the leading axis
is cut into chunks of a fixed size (the last one padded, so one compiled program serves every
chunk), each chunk is laid out over a 1-D device mesh with ``jax.sharding.NamedSharding``
so each device computes its share, and a progress bar advances per chunk.

Results do not depend on the number of devices: items are independent and each is computed
by the same program, so 1 and 4 devices give identical numbers (tested with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``).

Multi-host
----------
On a cluster, call :func:`init_distributed` once per process before any other JAX call
(or set the ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``
environment variables that ``jax.distributed.initialize`` reads). jaxfit does not start
processes itself. After initialisation ``jax.devices()`` lists every device in the job; the
mesh here uses only this process's ``jax.local_devices()``, so each host runs its own
chunks: split a large grid between hosts with :func:`process_slice` and gather the saved
results (a worked example is in the README and in ``tests/core/test_multihost.py``, which
runs it with two processes on one machine).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxfit.core import checks
from jaxfit.core.progress import progress_bar, status_line

BATCH_AXIS = "batch"


def default_platform() -> str:
    """Platform of the default device: the one ``jax.default_device`` selects, else JAX's
    default backend (so a CPU benchmark on a GPU machine shards over the CPU)."""
    device = jax.config.jax_default_device
    if device is None:
        return jax.default_backend()
    return device if isinstance(device, str) else device.platform


def local_devices(count: int | None = None) -> list:
    """The first ``count`` local devices (all of them for ``None``), for ``devices=``
    arguments and the CLIs' ``--devices N``.

    Raises:
        ValueError: ``count`` is not a positive int or exceeds the local device count.
    """
    available = jax.local_devices(backend=default_platform())
    if count is None:
        return list(available)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"devices must be a positive int, got {count!r}")
    if count > len(available):
        raise ValueError(
            f"devices={count} but this process sees {len(available)} local device(s) "
            f"({available[0].platform}); on CPU, XLA_FLAGS="
            f"--xla_force_host_platform_device_count={count} makes {count} host devices"
        )
    return list(available[:count])


def batch_mesh(devices=None) -> Mesh:
    """A 1-D mesh named ``"batch"`` over ``devices`` (default: all local devices of the
    default device's platform, :func:`default_platform`)."""
    devices = local_devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (BATCH_AXIS,))


def constrain_batch(tree):
    """Inside ``jit``: lay axis 0 of every leaf over the local devices (XLA then splits the
    work that follows), for batched programs that do not go through :func:`map_batched`,
    e.g. a simulator that draws its own batch. A no-op on one device or when the batch size
    is not a multiple of the device count."""
    devices = local_devices()
    leaves = jax.tree_util.tree_leaves(tree)
    if len(devices) < 2 or any(leaf.shape[0] % len(devices) for leaf in leaves):
        return tree
    sharding = NamedSharding(batch_mesh(devices), PartitionSpec(BATCH_AXIS))
    return jax.tree_util.tree_map(lambda leaf: jax.lax.with_sharding_constraint(leaf, sharding),
                                  tree)


def init_distributed(coordinator_address: str, num_processes: int, process_id: int) -> None:
    """Join a multi-host JAX job (thin wrapper of ``jax.distributed.initialize``)."""
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )


def process_slice(n: int) -> slice:
    """This process's contiguous share of ``n`` items in a multi-host job (the whole range
    in a single process): process ``k`` of ``P`` gets items ``[k n // P, (k + 1) n // P)``,
    so the shares of all processes concatenated in process order are ``range(n)``.

    Raises:
        ValueError: ``n`` is not a non-negative int.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    k, count = jax.process_index(), jax.process_count()
    return slice(k * n // count, (k + 1) * n // count)


def _batch_size(tree) -> int:
    leaves = jax.tree_util.tree_leaves(tree)
    if any(np.ndim(leaf) == 0 for leaf in leaves):
        raise ValueError("every batched input needs a leading batch axis; got a scalar")
    sizes = {int(np.shape(leaf)[0]) for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(f"all batched inputs need the same leading size, got {sorted(sizes)}")
    return sizes.pop()


MEMORY_FRACTION = 0.5
"""Share of a device's free memory one compiled chunk may use (``chunk_size=None``)."""

HOST_CHUNK_BYTES = 2**30
"""Most bytes one compiled chunk may use on a CPU device (``chunk_size=None``). On a host,
bigger chunks add no parallelism but stream more memory: 10^6 CMB+BAO chi2 took 21 s in
chunks of 25k or 100k points (0.65 or 2.6 GB) and 35 s in chunks of 385k (10 GB), 2 cores."""

_DEFAULT_CHUNK: dict = {"value": None}


def set_default_chunk(chunk: int | None) -> None:
    """Items per compiled call for every :func:`map_batched` call without ``chunk_size``
    (the CLI's global ``--chunk``); ``None`` clears it (see :func:`default_chunk`).

    Raises:
        ValueError: ``chunk`` is not a positive integer.
    """
    _DEFAULT_CHUNK["value"] = None if chunk is None else checks.count(chunk, "chunk")


def default_chunk() -> int | None:
    """The chunk size :func:`map_batched` uses without ``chunk_size``: the one set by
    :func:`set_default_chunk`, else the ``JAXFIT_CHUNK`` environment variable, else None
    (memory-aware).

    Raises:
        ValueError: ``JAXFIT_CHUNK`` is set but not a positive integer.
    """
    if _DEFAULT_CHUNK["value"] is not None:
        return _DEFAULT_CHUNK["value"]
    env = os.environ.get("JAXFIT_CHUNK", "").strip()
    return checks.count(env, "JAXFIT_CHUNK") if env else None


def free_memory_bytes(device) -> int | None:
    """Free memory of ``device`` in bytes: the allocator's limit minus its use on GPUs, the
    available physical memory of the host for CPU devices; None if unknown."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@functools.lru_cache(maxsize=128)
def _jitted(fn: Callable, sharding: NamedSharding, with_shared: bool):
    # cached on the function object, so a solver built once (see optimize.py) compiles once
    if with_shared:
        return jax.jit(jax.vmap(fn, in_axes=(0, None)), out_shardings=sharding)
    return jax.jit(jax.vmap(fn), out_shardings=sharding)


def _dtype(x) -> np.dtype:
    """dtype of an array leaf, or of a Python scalar (float64 for a float)."""
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.result_type(x)


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((np.shape(x), _dtype(x).str) for x in leaves)


_EXECUTABLES: dict = {}


def _executable(fn: Callable, sharding: NamedSharding, part, shared=None,
                description: str = "batch", progress: bool = True):
    """The program for one chunk, compiled ahead of time (cached on function, sharding and
    the shapes of the chunk and of ``shared``), so its memory needs are known before it
    runs. A compilation longer than a second shows a status line."""
    with_shared = shared is not None
    key = (fn, sharding, _signature(part), _signature(shared) if with_shared else None)
    if key not in _EXECUTABLES:
        if len(_EXECUTABLES) >= 256:
            _EXECUTABLES.pop(next(iter(_EXECUTABLES)))
        args = (part, shared) if with_shared else (part,)
        with status_line(f"compiling {description}", enabled=progress):
            t0 = time.perf_counter()
            lowered = _jitted(fn, sharding, with_shared).lower(*args)
            t1 = time.perf_counter()
            _EXECUTABLES[key] = lowered.compile()
        if os.environ.get("JAXFIT_COMPILE_PROFILE"):
            # the benchmark of first calls (benchmarks/bench_startup.py) reads these lines
            lines = lowered.as_text().count("\n")
            print(f"[compile-profile] {description}: trace+lower {t1 - t0:.2f} s, compile "
                  f"{time.perf_counter() - t1:.2f} s, {lines} StableHLO lines",
                  file=sys.stderr)
    return _EXECUTABLES[key]


def _program_bytes(executable) -> int | None:
    """Per-device bytes of a compiled program (arguments, outputs and temporaries)."""
    try:
        m = executable.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes)
    except Exception:  # noqa: BLE001 - some backends do not report; then no auto chunking
        return None


def map_batched(
    fn: Callable,
    batch,
    *,
    shared=None,
    chunk_size: int | None = None,
    devices=None,
    description: str = "batch",
    progress: bool = True,
):
    """Apply ``fn`` (one item -> pytree) to every item of ``batch`` (pytree, leading axis).

    Args:
        fn: pure JAX function of one item (``fn(item, shared)`` when ``shared`` is given);
            it is vmapped and jitted here. Pass a function built once (module level or
            cached): compiled programs are cached on the function object.
        batch: pytree of arrays sharing a leading axis of length B >= 1.
        shared: optional pytree of arrays every item uses (e.g. the source images of a
            simulation), copied to every device once instead of being repeated per item.
        chunk_size: items per compiled call, rounded up to a multiple of the device count.
            Default: :func:`default_chunk` if set (CLI ``--chunk``, ``JAXFIT_CHUNK``), else
            memory-aware; all B at once if the compiled program needs at most
            :data:`MEMORY_FRACTION` of the first device's free memory
            (:func:`free_memory_bytes`; on CPU devices also at most
            :data:`HOST_CHUNK_BYTES`), else the largest chunk that does (its size read
            from XLA's memory analysis of the compiled program, so a full-size workload
            neither dies of out-of-memory on a GPU nor is cut small on a big one).
        devices: devices to shard over (default: all local devices).
        description: progress-bar label.
        progress: a bar over the chunks when there is more than one, else a status line
            with the elapsed time (after a second); a status line during compilation.

    Returns:
        The pytree of outputs with leading axis B, as numpy arrays.
    """
    n = _batch_size(batch)
    if n == 0:
        raise ValueError(f"{description}: the batch is empty")
    mesh = batch_mesh(devices)
    n_dev = mesh.devices.size
    sharding = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))
    if chunk_size is None:
        chunk_size = default_chunk()
    if chunk_size is None:
        chunk = _memory_chunk(fn, batch, n, n_dev, sharding, mesh.devices.flat[0], shared,
                              description, progress)
    else:
        chunk = checks.count(chunk_size, "chunk_size")
    chunk = math.ceil(min(chunk, n) / n_dev) * n_dev
    n_chunks = math.ceil(n / chunk)
    # equal chunks, so the last one is not padded to a full chunk of repeated items (10^6
    # points in chunks of 925k computed 1.85M before); padding is then < n_dev per chunk
    chunk = math.ceil(math.ceil(n / n_chunks) / n_dev) * n_dev
    padded = n_chunks * chunk

    def pad(leaf):
        leaf = np.asarray(leaf)
        if padded == n:
            return leaf
        # repeat the last item: a valid input, so padding never creates NaNs or errors
        extra = np.repeat(leaf[-1:], padded - n, axis=0)
        return np.concatenate([leaf, extra], axis=0)

    batch = jax.tree_util.tree_map(pad, batch)
    if shared is not None:
        shared = jax.device_put(shared, NamedSharding(mesh, PartitionSpec()))
    outputs = []
    with progress_bar(n_chunks, description, enabled=progress and n_chunks > 1) as advance:
        for k in range(n_chunks):
            window = slice(k * chunk, (k + 1) * chunk)
            part = jax.tree_util.tree_map(lambda leaf, w=window: leaf[w], batch)
            part = jax.device_put(part, sharding)
            program = _executable(fn, sharding, part, shared, description, progress)
            # one chunk has no bar to advance: a status line says the work goes on
            with status_line(f"running {description}", enabled=progress and n_chunks == 1):
                result = program(part) if shared is None else program(part, shared)
                outputs.append(jax.tree_util.tree_map(np.asarray, result))
            advance(1)
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0)[:n], *outputs)


def _memory_chunk(fn, batch, n: int, n_dev: int, sharding, device, shared=None,
                  description: str = "batch", progress: bool = True) -> int:
    """Items per chunk for ``chunk_size=None`` (see :func:`map_batched`)."""
    full = math.ceil(n / n_dev) * n_dev
    sample = jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct((full,) + np.shape(leaf)[1:], np.asarray(leaf).dtype,
                                          sharding=sharding), batch)
    if shared is not None:
        replicated = NamedSharding(sharding.mesh, PartitionSpec())
        shared = jax.tree_util.tree_map(
            lambda leaf: jax.ShapeDtypeStruct(np.shape(leaf), _dtype(leaf),
                                              sharding=replicated),
            shared)
    need = _program_bytes(_executable(fn, sharding, sample, shared, description, progress))
    free = free_memory_bytes(device)
    budget = None if free is None else MEMORY_FRACTION * free
    if device.platform == "cpu":
        budget = HOST_CHUNK_BYTES if budget is None else min(budget, HOST_CHUNK_BYTES)
    if need is None or budget is None or need <= budget:
        return full
    # per-device memory scales with the per-device share of the batch
    return max(n_dev, int(full * budget / need) // n_dev * n_dev)
