"""``jaxfit leptons``: Hill-vortex lepton fits, beta / (beta, w) profiles, cross-lepton tests."""

from __future__ import annotations

from pathlib import Path

import typer

from jaxfit.cli.state import out_option, say, show_progress

leptons_app = typer.Typer(help="Hill-vortex lepton masses: fits, profile scans, cross-lepton.",
                          no_args_is_help=True)

FLOW = typer.Option("vortex", "--flow", help="vortex (default), research or lab.")
SIGMA = typer.Option(1e-4, "--sigma-model", help="Relative mass uncertainty of the model.")
OUT = out_option(Path("jaxfit-results/leptons"), help="Results folder (the command names "
                 "its files: lepton_fit.*, lepton_scan_*.*, lepton_profile.*, cross_*.*).")
DEVICES = typer.Option(None, "--devices", help="Shard over the first N local devices "
                       "(default: all).")


def _devices(count: int | None):
    from jaxfit.core.parallel import local_devices

    try:
        return local_devices(count)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--devices") from None


def _config(flow: str):
    from jaxfit.leptons.model import EnergyConfig

    try:
        return EnergyConfig(flow=flow)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--flow") from None


def _report(result, out: Path, stem: str):
    from jaxfit.leptons.checklist import format_checklist

    paths = result.save(out, stem)
    say(result.summary())
    say(format_checklist(result.checklist))
    say("wrote " + ", ".join(str(p) for p in paths.values()))


def _checked(option: str, check, *args, **kwargs):
    """``check(*args, **kwargs)``, its ValueError turned into a usage error naming
    ``option`` (the library names the parameter, the user typed the option)."""
    try:
        return check(*args, **kwargs)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=option) from None


def _shared(value, name: str) -> float:
    """``beta`` or ``w`` from the command line: finite and inside its bounds (w > 0)."""
    from jaxfit.core import checks
    from jaxfit.leptons.params import SHARED_BOUNDS

    low, high = SHARED_BOUNDS[name]
    option = f"--{name}"
    return _checked(option, checks.real, value, option, positive=name == "w", low=low,
                    high=high)


def _run_options(sigma_model: float, n_starts: int, chunk: int | None = None,
                 seed: int = 0) -> None:
    """The options every command shares, checked before anything is compiled."""
    from jaxfit.core import checks

    _checked("--sigma-model", checks.real, sigma_model, "--sigma-model", positive=True)
    _checked("--n-starts", checks.count, n_starts, "--n-starts")
    _checked("--seed", checks.count, seed, "--seed", minimum=0)
    if chunk is not None:
        _checked("--chunk", checks.count, chunk, "--chunk")


def _out(out: Path) -> Path:
    """``--out``, created and probed before the fit: a run that cannot save its results
    fails before it costs anything."""
    from jaxfit.core.checks import writable_folder

    return writable_folder(out, what="--out")


def _number(text, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number, got {text!r}", param_hint=option) from None


def _grid(text: str, name: str, log: bool = False):
    from jaxfit.core import checks
    from jaxfit.core.scan import parse_grid
    from jaxfit.leptons.params import SHARED_BOUNDS

    option = f"--{name}"
    grid = _checked(option, parse_grid,
                    ("log:" if log and not text.startswith("log:") else "") + text)
    low, high = SHARED_BOUNDS[name]
    for value in grid:
        _checked(option, checks.real, value, f"each value of {option}", positive=name == "w",
                 low=low, high=high)
    return grid


@leptons_app.command("fit")
def fit(
    beta: float = typer.Option(3.043233053, "--beta"),
    w: float = typer.Option(0.02, "--w"),
    flow: str = FLOW,
    sigma_model: float = SIGMA,
    n_starts: int = typer.Option(64, "--n-starts"),
    seed: int = typer.Option(0, "--seed"),
    devices: int = DEVICES,
    out: Path = OUT,
):
    """Fit the 9 lepton parameters at fixed (beta, w) from many starts."""
    from jaxfit.leptons.fit import fit_fixed

    beta, w = _shared(beta, "beta"), _shared(w, "w")
    _run_options(sigma_model, n_starts, seed=seed)
    config, devices, out = _config(flow), _devices(devices), _out(out)
    result = fit_fixed(beta, w, config=config, sigma_model=sigma_model,
                       n_starts=n_starts, seed=seed, devices=devices,
                       progress=show_progress())
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
    n_starts: int = typer.Option(4, "--n-starts", help="Drawn starts per grid point; every "
                                 "point is then restarted from its neighbours' optima."),
    chunk: int = typer.Option(None, "--chunk", help="Grid points x starts per compiled call."),
    devices: int = DEVICES,
    out: Path = OUT,
):
    """Profile likelihood over beta (1-D) or (beta, w) (2-D), every point x start batched.

    Without --preset or --beta the grid is automatic: centred on the best fit, sized from its
    Hessian and refined until the 68.3/95.4/99.7% contours close (a single --w value holds w
    there for a profile over beta alone); warnings name the contours that reach the bounds."""
    from jaxfit.core import checks
    from jaxfit.leptons.params import DEFAULT_W
    from jaxfit.leptons.scan import (
        PRESETS,
        find_contours,
        run_preset,
        scan_beta,
        scan_beta_w,
    )

    if preset is not None:
        _checked("--preset", checks.one_of, preset, "--preset", PRESETS)
    w_grid = w is not None and ":" in w
    if w_grid and beta is None and preset is None:
        raise typer.BadParameter("a --w grid needs a --beta grid too", param_hint="--w")
    beta_grid = None if beta is None or preset is not None else _grid(beta, "beta")
    w_value = None if w_grid else _shared(_number(w or DEFAULT_W, "--w"), "w")
    w_axis = _grid(w, "w", log_w) if w_grid and preset is None else None
    _run_options(sigma_model, n_starts, chunk)
    common = dict(config=_config(flow), sigma_model=sigma_model, n_starts=n_starts,
                  chunk_size=chunk, devices=_devices(devices), progress=show_progress())
    out = _out(out)
    if preset is None and beta is None:
        names = ("beta",) if w is not None else ("beta", "w")
        result = find_contours(names, w=w_value, **common | {"chunk_size": chunk or 64})
        paths = result.save(out, "lepton_profile")
        say(result.summary())
        say("wrote " + ", ".join(str(p) for p in paths.values()))
        return
    if preset is not None:
        result = run_preset(preset, **common)
    elif not w_grid:
        result = scan_beta(beta_grid, w=w_value, **common)
    else:
        result = scan_beta_w(beta_grid, w_axis, **common)
    _report(result, out, f"lepton_scan_{preset or 'custom'}")


@leptons_app.command("cross")
def cross(
    w: float = typer.Option(0.02, "--w"),
    flow: str = FLOW,
    n_starts: int = typer.Option(16, "--n-starts"),
    devices: int = DEVICES,
    profile: bool = typer.Option(True, "--profile/--no-profile",
                                 help="Also the beta profiles of research Tests 2 and 3."),
    out: Path = OUT,
):
    """Masses + g-factors with shared beta and C_mu: multi-start (Test 1) and profiles."""
    from jaxfit.core import checks
    from jaxfit.leptons.cross import cross_multistart, cross_report, run_cross_tests

    w = _shared(w, "w")
    _checked("--n-starts", checks.count, n_starts, "--n-starts")
    config, devices, out = _config(flow), _devices(devices), _out(out)
    multi = cross_multistart(w=w, config=config, n_starts=n_starts, devices=devices,
                             progress=show_progress())
    _report(multi, out, "cross_multistart")
    if profile:
        profiles = run_cross_tests(w=w, config=config, n_starts=n_starts, devices=devices,
                                   progress=show_progress())
        for name, result in profiles.items():
            _report(result, out, f"cross_{name}")
        say(cross_report(profiles, multi).to_string())


def demo_part(out: Path, quiet: bool = False) -> dict:
    """``jaxfit demo``: the research 3x3 (beta, w) sanity grid, 8 starts per point."""
    from jaxfit.core.provenance import run_record
    from jaxfit.leptons.checklist import format_checklist
    from jaxfit.leptons.scan import run_preset

    folder = Path(out) / "leptons"
    result = run_preset("sanity-3x3", n_starts=8, progress=not quiet)
    paths = result.save(folder, "lepton_scan_sanity-3x3")
    checklist = result.checklist
    failed = [item["item"] for item in checklist if not item["passed"]]
    summary = [
        f"leptons (beta, w) 3x3 scan: chi2_min = {result.chi2_min:.6g} at beta = "
        f"{result.beta_min:.4f}, w = {result.w_min:.4g}, S_opt = {result.S_opt:.4g} MeV; "
        f"{len(result.bounds_reached)} parameters on bounds; checklist fails: "
        f"{', '.join(failed) or 'none'}"
    ]
    section = {
        "title": "Leptons: Hill-vortex masses, profile over (beta, w)",
        "text": [
            "The 9 lepton parameters fitted at each point of the research 3x3 grid (8 starts "
            "per point, all in one batched program), the global mass scale S profiled "
            "analytically. With the research bounds the model cannot reach the muon/tau mass "
            "ratio, so chi2 is ~1e7 and parameters sit on their bounds: the checklist says so.",
            *summary,
        ],
        "pre": format_checklist(checklist),
        "images": [f"leptons/{paths['png'].name}"],
        "files": [f"leptons/{p.name}" for k, p in paths.items() if k != "png"],
    }
    return {"section": section, "summary": summary, "provenance": run_record(folder=str(folder))}
