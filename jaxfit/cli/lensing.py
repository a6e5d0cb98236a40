"""``jaxfit lensing``: MaNGA source preparation, lensed-image simulation and the subhalo CNN."""

from __future__ import annotations

from pathlib import Path

import typer

from jaxfit.cli.state import out_option, parse_list, parse_numbers, say, show_progress
from jaxfit.lensing.params import SIM_PARAMS

lensing_app = typer.Typer(help="MaNGA sources, SIS + subhalo lensing, the Flax subhalo CNN.",
                          no_args_is_help=True)

OUT = out_option(Path("jaxfit-results/lensing"), help="Results folder (the command names "
                 "its files inside it).")
SOURCES = typer.Option(None, "--sources", help="Folder of prepared source .npy files "
                       "(`jaxfit lensing prep`); default: 6 synthetic galaxies.")
EXPERIMENT = typer.Option("lensed", "--experiment", help="lensed, subhalo or kinematic.")
N_SOURCES = 6


def _checked(flag: str, check, *args, **kwargs):
    """``check(*args, **kwargs)``, its ValueError turned into a usage error naming ``flag``
    (the library's message names the parameter, the user typed the option)."""
    try:
        return check(*args, **kwargs)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=flag) from None


def _out(out: Path) -> Path:
    """``--out``, created and probed before any long work (a run that cannot save fails
    before it costs anything)."""
    from jaxfit.core.checks import writable_folder

    return writable_folder(out, what="--out")


def _sources(folder: Path | None, n_pix: int):
    from jaxfit.lensing.sources import load_sources
    from jaxfit.lensing.synthetic import synthetic_sources

    if folder is None:
        return synthetic_sources(N_SOURCES, seed=0, n_pix=n_pix), None
    sources, ids = load_sources(folder)
    return sources, list(ids)


def _config(experiment, channels, arch, epochs, n_train, n_val, n_test, seed, n_pix,
            sub_factor, psf_sigma, flux_noise, vel_noise):
    import dataclasses

    from jaxfit.core import checks
    from jaxfit.lensing.batches import CHANNEL_MODES
    from jaxfit.lensing.cnn import ARCHS
    from jaxfit.lensing.params import EXPERIMENTS, LensSimConfig
    from jaxfit.lensing.training import TrainConfig

    # each option is checked alone first, so the error names the option that was typed
    for flag, value, choices in (("--experiment", experiment, EXPERIMENTS),
                                 ("--channels", channels, CHANNEL_MODES),
                                 ("--arch", arch, ARCHS)):
        _checked(flag, checks.one_of, value, flag, choices)
    for flag, value in (("--epochs", epochs), ("--n-train", n_train), ("--n-val", n_val),
                        ("--n-test", n_test)):
        _checked(flag, checks.count, value, flag)
    _checked("--seed", checks.count, seed, "--seed", minimum=0)
    values = {"n_pix": n_pix, "theta_E_sub_factor": sub_factor, "psf_sigma": psf_sigma,
              "flux_noise_sigma": flux_noise, "vel_noise_sigma": vel_noise}
    flags = {"n_pix": "--n-pix"} | {name: flag for flag, name in _SIM_OPTIONS.values()}
    for name, value in values.items():
        _checked(flags[name], dataclasses.replace, LensSimConfig(), **{name: value})
    sim = dataclasses.replace(LensSimConfig(), **values)
    return TrainConfig(experiment=experiment, channels=channels, arch=arch, epochs=epochs,
                       n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, sim=sim)


@lensing_app.command("inspect")
def inspect(folder: Path = typer.Argument(..., help="Folder of MaNGA DAP MAPS files."),
            velocity: str = typer.Option("stellar", "--velocity", help="stellar or gas."),
            out: Path = OUT):
    """Quality metrics and lensibility tiers of every MAPS file; CSV summaries + index."""
    from jaxfit.core.checks import existing_folder
    from jaxfit.lensing.quality import inspect_folder

    existing_folder(folder, "FOLDER (the MAPS files)")
    quality, scored, index = inspect_folder(folder, _out(out), velocity=velocity,
                                            progress=show_progress())
    say(scored.to_string(max_rows=30))
    say(f"{len(scored)} files; tiers: {scored['tier'].value_counts().to_dict()}; "
        f"wrote {out}/maps_quality_summary.csv, maps_lensability_scored.csv, {index.name}")


@lensing_app.command("prep")
def prep(folder: Path = typer.Argument(..., help="Folder of MaNGA DAP MAPS files."),
         n_pix: int = typer.Option(64, "--n-pix"),
         velocity: str = typer.Option("stellar", "--velocity", help="stellar or gas."),
         out: Path = OUT):
    """Source tensors (2, N, N) as .npy plus preview PNGs for every usable MAPS file."""
    from jaxfit.core import checks
    from jaxfit.lensing.sources import prep_folder

    checks.existing_folder(folder, "FOLDER (the MAPS files)")
    _checked("--n-pix", checks.count, n_pix, "--n-pix", minimum=2)
    paths = prep_folder(folder, _out(out), n_pix=n_pix, velocity=velocity, progress=show_progress())
    say(f"wrote {len(paths)} source tensors to {out}")


# the simulator options of `train` (option: flag, parameter set): default, unit and help
# come from the parameter's declaration in SIM_PARAMS
_SIM_OPTIONS = {
    "sub_factor": ("--sub-factor", "theta_E_sub_factor"),
    "psf_sigma": ("--psf-sigma", "psf_sigma"),
    "flux_noise": ("--flux-noise", "flux_noise_sigma"),
    "vel_noise": ("--vel-noise", "vel_noise_sigma"),
}


def _sim_option(flag: str, name: str):
    p = SIM_PARAMS[name]
    unit = f" [{p.unit}]" if p.unit else ""
    return typer.Option(p.default, flag, help=f"{p.doc}{unit}.")


TRAIN_OPTIONS = dict(
    channels=typer.Option("both", "--channels", help="both, flux_only or vel_only."),
    arch=typer.Option("research", "--arch", help="research or deep."),
    epochs=typer.Option(10, "--epochs"),
    n_train=typer.Option(4000, "--n-train"),
    n_val=typer.Option(800, "--n-val"),
    n_test=typer.Option(800, "--n-test"),
    seed=typer.Option(42, "--seed"),
    n_pix=typer.Option(64, "--n-pix"),
    **{option: _sim_option(*spec) for option, spec in _SIM_OPTIONS.items()},
)


def _on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was typed (not its default); by the source's name, as
    typer keeps its click private."""
    return ctx.get_parameter_source(name).name == "COMMANDLINE"


# options that `train --resume` takes from the checkpoint instead of the command line
_RESUME_KEEPS = ("experiment", "channels", "arch", "n_train", "n_val", "n_test", "seed",
                 "n_pix", *_SIM_OPTIONS)


@lensing_app.command("train")
def train(
    ctx: typer.Context,
    experiment: str = EXPERIMENT,
    channels: str = TRAIN_OPTIONS["channels"],
    arch: str = TRAIN_OPTIONS["arch"],
    epochs: int = TRAIN_OPTIONS["epochs"],
    n_train: int = TRAIN_OPTIONS["n_train"],
    n_val: int = TRAIN_OPTIONS["n_val"],
    n_test: int = TRAIN_OPTIONS["n_test"],
    seed: int = TRAIN_OPTIONS["seed"],
    n_pix: int = TRAIN_OPTIONS["n_pix"],
    sub_factor: float = TRAIN_OPTIONS["sub_factor"],
    psf_sigma: float = TRAIN_OPTIONS["psf_sigma"],
    flux_noise: float = TRAIN_OPTIONS["flux_noise"],
    vel_noise: float = TRAIN_OPTIONS["vel_noise"],
    sources: Path = SOURCES,
    resume: Path = typer.Option(
        None, "--resume", help="Folder of an earlier run (its checkpoint.npz): continue it "
        "from its last epoch with its Adam state up to --epochs in all, with its settings "
        "and the same --sources; results go to that folder unless --out is given."),
    out: Path = OUT,
):
    """Train the CNN on images simulated on the device each step; test on held-out galaxies."""
    import dataclasses

    from jaxfit.core import checks
    from jaxfit.lensing.training import train as run

    if resume is None:
        config = _config(experiment, channels, arch, epochs, n_train, n_val, n_test, seed,
                         n_pix, sub_factor, psf_sigma, flux_noise, vel_noise)
    else:
        from jaxfit.lensing.checkpoints import checkpoint_config

        given = [f"--{name.replace('_', '-')}" for name in _RESUME_KEEPS
                 if _on_command_line(ctx, name)]
        if given:
            raise ValueError(f"--resume takes the run's settings from its checkpoint; drop "
                             f"{', '.join(given)} (only --epochs, --sources, --out apply)")
        saved = checkpoint_config(resume)
        config = dataclasses.replace(saved, epochs=_checked("--epochs", checks.count, epochs,
                                                            "--epochs"))
        if not _on_command_line(ctx, "out"):
            out = resume
    out = _out(out)
    src, ids = _sources(sources, config.sim.n_pix)
    result = run(config, src, ids, out_dir=out, progress=show_progress(), resume=resume)
    say(result.summary())
    say("wrote " + ", ".join(str(p) for p in result.paths.values()))


@lensing_app.command("sweep")
def sweep(
    experiment: str = typer.Option("subhalo", "--experiment"),
    sub_factors: str = typer.Option("0.1,0.3", "--sub-factors"),
    psf_sigmas: str = typer.Option("0,1", "--psf-sigmas"),
    noise_levels: str = typer.Option("0,0.08", "--noise-levels", help="Flux noise sigmas; "
                                     "the velocity noise stays at its default."),
    channel_modes: str = typer.Option("both,flux_only,vel_only", "--channel-modes"),
    epochs: int = typer.Option(3, "--epochs"),
    n_train: int = typer.Option(2000, "--n-train"),
    n_pix: int = TRAIN_OPTIONS["n_pix"],
    seed: int = TRAIN_OPTIONS["seed"],
    sources: Path = SOURCES,
    out: Path = OUT,
):
    """Grid over subhalo strength, PSF and noise x channel modes: one CSV row per run."""
    import dataclasses

    from jaxfit.lensing.batches import CHANNEL_MODES
    from jaxfit.lensing.sweep import sweep as run

    base = _config(experiment, "both", "research", epochs, n_train, 400, 400, seed, n_pix,
                   *(SIM_PARAMS[name].default for _, name in _SIM_OPTIONS.values()))
    grid = {"theta_E_sub_factor": parse_numbers(sub_factors, "--sub-factors"),
            "psf_sigma": parse_numbers(psf_sigmas, "--psf-sigmas"),
            "flux_noise_sigma": parse_numbers(noise_levels, "--noise-levels"),
            "channels": parse_list(channel_modes, "--channel-modes", CHANNEL_MODES)}
    for name, flag in (("theta_E_sub_factor", "--sub-factors"), ("psf_sigma", "--psf-sigmas"),
                       ("flux_noise_sigma", "--noise-levels")):
        for value in grid[name]:
            _checked(flag, dataclasses.replace, base.sim, **{name: value})
    out = _out(out)
    src, ids = _sources(sources, n_pix)
    result = run(grid, base, src, out, source_ids=ids, progress=show_progress())
    columns = [c for c in ("theta_E_sub_factor", "psf_sigma", "flux_noise_sigma", "channels",
                           "accuracy", "roc_auc", "beats_chance") if c in result.frame]
    say(result.frame[columns].to_string(index=False))
    say(result.summary())
    say(f"wrote {out}/sweep.json, {out}/sweep.csv, {out}/sweep.png")


def demo_part(out: Path, quiet: bool = False) -> dict:
    """``jaxfit demo``: a lensed-image panel and a short lensed-vs-unlensed training run."""
    import dataclasses

    import jax
    import matplotlib.pyplot as plt
    import numpy as np

    from jaxfit.core.io import save_figure
    from jaxfit.core.provenance import run_record
    from jaxfit.lensing.params import LensSimConfig
    from jaxfit.lensing.simulate import lens_image
    from jaxfit.lensing.synthetic import synthetic_sources
    from jaxfit.lensing.training import TrainConfig, train

    folder = Path(out) / "lensing"
    sources = synthetic_sources(N_SOURCES, seed=0, n_pix=64)
    sim = LensSimConfig(theta_E_sub_factor=0.3, psf_sigma=0.0, flux_noise_sigma=0.0,
                        vel_noise_sigma=0.0)
    source = jax.numpy.asarray(sources[0], dtype=jax.numpy.float64)
    smooth = np.asarray(lens_image(source, sim, with_subhalo=False))
    position = jax.numpy.array([0.6, 0.1])
    lumpy = np.asarray(lens_image(source, sim, subhalo_position=position))
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.5))
    panels = (("source", np.asarray(source)), ("smooth SIS", smooth),
              ("SIS + subhalo (factor 0.3)", lumpy))
    for col, (title, image) in enumerate(panels):
        axes[0, col].imshow(image[0], origin="lower", cmap="magma", extent=(-1, 1, -1, 1))
        axes[1, col].imshow(image[1], origin="lower", cmap="RdBu_r", vmin=-1, vmax=1,
                            extent=(-1, 1, -1, 1))
        axes[0, col].set_title(f"{title}: flux", fontsize=9)
        axes[1, col].set_title(f"{title}: velocity", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    panel = save_figure(fig, folder / "lensed_panel.png")
    config = TrainConfig(experiment="lensed", epochs=2, n_train=1024, n_val=256, n_test=256,
                         sim=dataclasses.replace(LensSimConfig(), n_pix=32))
    result = train(config, synthetic_sources(N_SOURCES, seed=0, n_pix=32),
                   out_dir=folder / "train_lensed", progress=not quiet)
    verdict = "beats chance" if result.beats_chance else "NOT better than chance"
    summary = [
        f"lensing: lensed vs unlensed CNN (2 epochs, 32x32, synthetic galaxies): test accuracy "
        f"{result.test['accuracy']:.3f} ({verdict} at majority-class rate "
        f"{result.test['majority_rate']:.3f}), ROC AUC {result.test['roc_auc']:.3f}; "
        f"{result.throughput['warm_images_per_s']:.0f} simulated training images/s"
    ]
    section = {
        "title": "Lensing: SIS + subhalo ray tracing and the subhalo CNN",
        "text": ["A synthetic rotating disc (flux and velocity channels) lensed by an SIS, "
                 "without and with a subhalo on the arc (no PSF or noise, so the subhalo's "
                 "distortion is visible), and a short training of the research CNN on images "
                 "simulated on the device each step, tested on held-out galaxies.", *summary],
        "images": [f"lensing/{panel.name}"],
        "files": [f"lensing/train_lensed/{p.name}" for p in result.paths.values()],
    }
    return {"section": section, "summary": summary, "provenance": run_record(folder=str(folder))}


