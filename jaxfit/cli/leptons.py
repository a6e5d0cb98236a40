"""``jaxfit leptons``: Hill-vortex lepton fits, beta / (beta, w) profiles, cross-lepton tests."""

from __future__ import annotations

from pathlib import Path

import typer

from jaxfit.cli.main import STATE, app, say

leptons_app = typer.Typer(help="Hill-vortex lepton masses: fits, profile scans, cross-lepton.",
                          no_args_is_help=True)
app.add_typer(leptons_app, name="leptons")

FLOW = typer.Option("vortex", "--flow", help="vortex (default), research or lab.")
SIGMA = typer.Option(1e-4, "--sigma-model", help="Relative mass uncertainty of the model.")
OUT = typer.Option(Path("jaxfit-results/leptons"), "--out", help="Results folder.")


def _config(flow: str):
    from jaxfit.leptons.model import EnergyConfig

    try:
        return EnergyConfig(flow=flow)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--flow") from None


def _report(result, out: Path, stem: str):
    from jaxfit.leptons.fit import format_checklist, validation_checklist

    paths = result.save(out, stem)
    say(str(result))
    say(format_checklist(validation_checklist(result)))
    say("wrote " + ", ".join(str(p) for p in paths.values()))


def _grid(text: str, name: str, log: bool = False):
    from jaxfit.core.scan import parse_grid

    try:
        return parse_grid(("log:" if log and not text.startswith("log:") else "") + text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=name) from None


@leptons_app.command("fit")
def fit(
    beta: float = typer.Option(3.043233053, "--beta"),
    w: float = typer.Option(0.02, "--w"),
    flow: str = FLOW,
    sigma_model: float = SIGMA,
    n_starts: int = typer.Option(64, "--n-starts"),
    seed: int = typer.Option(0, "--seed"),
    out: Path = OUT,
):
    """Fit the 9 lepton parameters at fixed (beta, w) from many starts."""
    from jaxfit.leptons.fit import fit_fixed

    try:
        result = fit_fixed(beta, w, config=_config(flow), sigma_model=sigma_model,
                           n_starts=n_starts, seed=seed, progress=not STATE["quiet"])
    except (KeyError, ValueError) as err:
        raise typer.BadParameter(str(err)) from None
    _report(result, out, "lepton_fit")


@leptons_app.command("scan")
def scan(
    preset: str = typer.Option(None, "--preset",
                               help="sanity-3x3, scan-9x6, default-16x10 or beta-41."),
    beta: str = typer.Option(None, "--beta", help="Grid start:stop:n."),
    w: str = typer.Option(None, "--w", help="Grid start:stop:n, or one value for a 1-D scan."),
    log_w: bool = typer.Option(False, "--log-w", help="Log-spaced w grid."),
    flow: str = FLOW,
    sigma_model: float = SIGMA,
    n_starts: int = typer.Option(16, "--n-starts"),
    chunk: int = typer.Option(None, "--chunk", help="Grid points x starts per compiled call."),
    out: Path = OUT,
):
    """Profile likelihood over beta (1-D) or (beta, w) (2-D), every point x start batched."""
    from jaxfit.leptons import fit as lf

    common = dict(config=_config(flow), sigma_model=sigma_model, n_starts=n_starts,
                  chunk_size=chunk, progress=not STATE["quiet"])
    try:
        if preset is not None:
            result = lf.run_preset(preset, **common)
        elif beta is None:
            raise typer.BadParameter("give --preset or --beta start:stop:n", param_hint="--beta")
        elif w is None or ":" not in w:
            result = lf.scan_beta(_grid(beta, "--beta"), w=float(w or lf.DEFAULT_W), **common)
        else:
            result = lf.scan_beta_w(_grid(beta, "--beta"), _grid(w, "--w", log_w), **common)
    except (KeyError, ValueError) as err:
        raise typer.BadParameter(str(err)) from None
    _report(result, out, f"lepton_scan_{preset or 'custom'}")


@leptons_app.command("cross")
def cross(
    w: float = typer.Option(0.02, "--w"),
    flow: str = FLOW,
    n_starts: int = typer.Option(16, "--n-starts"),
    profile: bool = typer.Option(True, "--profile/--no-profile",
                                 help="Also the beta profiles of research Tests 2 and 3."),
    out: Path = OUT,
):
    """Masses + g-factors with shared beta and C_mu: multi-start (Test 1) and profiles."""
    from jaxfit.leptons import fit as lf

    config = _config(flow)
    multi = lf.cross_multistart(w=w, config=config, n_starts=n_starts,
                                progress=not STATE["quiet"])
    multi.save(out, "cross_multistart")
    say(str(multi))
    if profile:
        profiles = lf.run_cross_tests(w=w, config=config, n_starts=n_starts,
                                      progress=not STATE["quiet"])
        for name, result in profiles.items():
            _report(result, out, f"cross_{name}")
        say(lf.cross_report(profiles, multi).to_string())
