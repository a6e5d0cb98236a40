"""``jaxfit cosmo``: LCDM / PBUF fits to CMB distance priors, BAO and SN, and the store."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from jaxfit.cli.boundary import message_of
from jaxfit.cli.state import STATE, deprecated, out_option, parse_list, say
from jaxfit.core import checks
from jaxfit.core.io import read_json, to_jsonable, write_json

cosmo_app = typer.Typer(help="LCDM and PBUF fits to CMB priors, BAO and SN; the parameter store.",
                        no_args_is_help=True)
store_app = typer.Typer(help="Show, check and export the parameter store.", no_args_is_help=True)
cosmo_app.add_typer(store_app, name="store")

STORE_OPTION = typer.Option(
    None, "--store", help="Store folder (else $JAXFIT_STORE, else a per-user folder)."
)


def _store(path):
    """The store at ``--store`` (else $JAXFIT_STORE, else the per-user folder); a file in
    its path is bad input (exit 2), found before anything is read or written."""
    from jaxfit.cosmo.store import OptimizedParameterStore, resolve_store_dir

    root = resolve_store_dir(path)
    for parent in (root, *root.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"parameter store (--store {root}): must be a folder, "
                                 f"got the file {parent}")
            break
    return OptimizedParameterStore(root)


def _writable_out(out, what: str = "--out"):
    """``out`` checked writable (created if missing) before any long work or store write;
    None stays None."""
    return None if out is None else checks.writable_folder(out, what=what)


def _checked_overrides(config, overrides: dict, model: str) -> dict:
    """The config's ``parameter_overrides``, each a parameter of ``model`` inside its
    bounds (the message names the file and the key)."""
    from jaxfit.cosmo.model import get_model

    params = {p.name: p for p in get_model(model).spec.params}
    for name, value in overrides.items():
        where = f"config file {config} (parameter_overrides.{name})"
        if name not in params:
            raise ValueError(f"{where}: must be a parameter of {model} "
                             f"({', '.join(params)}), got {name!r}")
        checks.real(value, where, low=params[name].lower, high=params[name].upper)
    return overrides


def _fit(model, datasets, optimize, frozen, config, cov_scale, dry_run, warm_start, store,
         n_starts, method, data_dir, out, default_datasets="cmb"):
    """Explicit flags win over the config file, which wins over the defaults."""
    from jaxfit.cosmo.config import load_config
    from jaxfit.cosmo.fit import optimize_parameters

    out = _writable_out(out)  # before the fit and before the store is written
    cfg, options = {}, {}
    if config is not None:
        try:
            cfg = load_config(config)
        except (ValueError, FileNotFoundError) as err:
            raise typer.BadParameter(message_of(err), param_hint="--config") from None
        options = cfg.get("optimization", {})
    model = model or cfg.get("model", "lcdm")
    datasets = datasets or cfg.get("datasets", default_datasets)
    optimize = optimize or ",".join(options.get("optimize_parameters", []))
    frozen = frozen or ",".join(options.get("frozen_parameters", []))
    cov_scale = cov_scale if cov_scale is not None else options.get("covariance_scaling", 1.0)
    dry_run = dry_run or options.get("dry_run", False) or not options.get("save_results", True)
    warm_start = warm_start or options.get("warm_start", False)
    store = _store(store)
    if not dry_run:  # a read-only store fails here, not after the fit
        checks.writable_folder(store.root, what="--store")
    result = optimize_parameters(
        model,
        datasets,
        parse_list(optimize, "--optimize") if optimize else None,
        _checked_overrides(config, cfg.get("parameter_overrides", {}), model),
        frozen=parse_list(frozen, "--frozen") if frozen else [],
        cov_scale=cov_scale,
        method=method,
        n_starts=n_starts,
        store=store,
        warm_start=warm_start,
        dry_run=dry_run,
        data_dir=data_dir,
        gtol=options.get("convergence_tolerance"),
        progress=True,
    )
    say(result.summary())
    refits = result.metadata["store_refits"]
    stored = "  stored as new defaults" + (
        f" (re-fitted {refits}x from points other fits stored meanwhile)" if refits else "")
    say("  dry run: store unchanged" if dry_run else
        (stored if result.converged else "  fit failed: store unchanged"))
    if out is not None:
        paths = result.save(out, f"{model}_fit")
        say(f"  wrote {paths['json']}, {paths['csv'].name}, {paths['png'].name}")
    if not result.converged:  # a line of its own, so that --quiet still says why it failed
        raise RuntimeError(f"fit did not converge (model {model}): a converged fit was "
                           "expected; the store is unchanged")
    return result


def _fit_command(default_datasets: str, doc: str):
    def command(
        model: str = typer.Option(None, "--model", help="lcdm or pbuf \\[default: lcdm]."),
        datasets: str = typer.Option(
            None, "--datasets",
            help=f"e.g. cmb,bao or cmb,bao:desi_dr1,sn:union3 \\[default: {default_datasets}]",
        ),
        optimize: str = typer.Option(None, "--optimize", help="Comma list of parameters."),
        frozen: str = typer.Option(None, "--frozen", help="Comma list held fixed."),
        config: Path = typer.Option(None, "--config", help="JSON config (seed format)."),
        cov_scale: float = typer.Option(None, "--cov-scale", help="Scale the CMB covariance."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Compute; write nothing."),
        warm_start: bool = typer.Option(False, "--warm-start", help="Start from a < 24 h fit."),
        store: Path = STORE_OPTION,
        n_starts: int = typer.Option(16, "--n-starts", help="Multi-start count."),
        method: str = typer.Option("lbfgs", "--method", help="lbfgs, adam, scipy-lbfgsb, de."),
        data_dir: Path = typer.Option(None, "--data-dir", help="Folder with bao_data/sn_data."),
        out: Path = out_option(None, help="Also write the result in this folder "
                               "(MODEL_fit.json, .csv, .png)."),
    ):
        _fit(model, datasets, optimize, frozen, config, cov_scale, dry_run, warm_start, store,
             n_starts, method, data_dir, out, default_datasets)

    command.__doc__ = doc
    return command


cosmo_app.command("fit")(_fit_command("cmb", "Fit chosen parameters and store the best fit."))
cosmo_app.command("fit-cmb")(_fit_command("cmb", "Research alias: fit to the CMB priors."))
cosmo_app.command("fit-bao")(_fit_command("bao", "Research alias: fit to BAO (DESI DR2)."))
cosmo_app.command("fit-sn")(_fit_command("sn", "Research alias: fit to SN (needs --data-dir)."))
cosmo_app.command("fit-joint")(_fit_command("cmb,bao", "Research alias: CMB + BAO jointly."))


@store_app.command("show")
def store_show(store: Path = STORE_OPTION):
    """Current defaults of every model."""
    s = _store(store)
    for model in s.models:
        say(f"[bold]{model}[/] ({s.path(model)})")
        say("  " + json.dumps(s.get_model_defaults(model)))


@store_app.command("history")
def store_history(model: str = typer.Argument(..., help="lcdm or pbuf."),
                  store: Path = STORE_OPTION):
    """Optimisation records of one model, oldest first."""
    # one JSON record per line (plain echo: rich would wrap long lines)
    for record in _store(store).get_optimization_history(model):
        if not STATE["quiet"]:
            typer.echo(json.dumps(to_jsonable(record.to_dict())))


SUMMARY_FILE = "optimization_summary.json"


@store_app.command("export")
def store_export(out: Path = out_option(Path("reports"), help="Folder of the summary "
                                        f"({SUMMARY_FILE})."),
                 store: Path = STORE_OPTION):
    """Write the optimisation summary JSON (OUT/optimization_summary.json)."""
    out = Path(out)
    if out.suffix == ".json" and not out.is_dir():  # the old file-valued --out, one release
        deprecated("--out FILE.json", "--out DIR", f"writes {out.parent / out.name}; "
                   f"--out {out.parent} writes {out.parent / SUMMARY_FILE}")
        folder, target = out.parent, out
    else:
        folder, target = out, out / SUMMARY_FILE
    _writable_out(folder)
    if target.is_dir():
        raise ValueError(f"summary file (--out {out}): {target} must be a file, got a folder")
    path = _store(store).export_optimization_summary(target)
    say(f"wrote {path}")


@store_app.command("check")
def store_check(store: Path = STORE_OPTION):
    """Validate every model file and the cross-model consistency (shared parameters)."""
    s = _store(store)
    status = s.check()
    for model, state in status.items():
        say(f"{model}: {state}")
    bad = [model for model, state in status.items() if state.startswith(("corrupt", "newer"))]
    if bad:
        # check() only reports: loading a corrupt file would move it aside and rebuild it
        raise RuntimeError(f"parameter store ({s.root}, models {', '.join(bad)}): must hold "
                           "valid files of this jaxfit's format; run a fit or `jaxfit cosmo "
                           "store show` to rebuild a corrupt one (a newer one needs a newer "
                           "jaxfit)")
    differences = s.validate_cross_model_consistency()
    for name, diff in differences.items():
        say(f"  {name}: relative spread between models {diff:.2e}")


@cosmo_app.command("report")
def report(out: Path = out_option(Path("jaxfit-results/cosmo-report"),
                                  help="Report folder (index.html and its figures)."),
           store: Path = STORE_OPTION,
           posterior: Path = typer.Option(
               Path("jaxfit-results/cosmo-sample"), "--posterior",
               help="Folder of `jaxfit cosmo sample` runs to show (corner plots, draws).")):
    """HTML report: optimisation summary, stored defaults, BAO residuals, NUTS posteriors."""
    from jaxfit.cosmo.report import write_report

    if posterior.exists() and not posterior.is_dir():
        raise ValueError(f"posterior folder (--posterior {posterior}): must be a folder of "
                         "`jaxfit cosmo sample` runs, got a file")
    store = _store(store)
    out = _writable_out(out)
    say(f"wrote {write_report(store, out, posterior)}")


def _data(model, datasets, store):
    """The data of ``chi2(params, data)`` and the model's spec at the stored defaults."""
    from jaxfit.cosmo.model import get_model
    from jaxfit.cosmo.objective import cosmo_data

    spec = get_model(model).spec.with_defaults(_store(store).get_model_defaults(model))
    return cosmo_data(model, datasets), spec


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{option} must be a comma list of numbers, got {text!r}") from None


@cosmo_app.command("profile")
def profile(
    model: str = typer.Option("lcdm", "--model"),
    datasets: str = typer.Option("cmb,bao", "--datasets"),
    x: str = typer.Option("Om0", "--x", help="NAME (automatic grid) or NAME=start:stop:n."),
    y: str = typer.Option("H0", "--y", help="NAME or NAME=start:stop:n (empty: 1-D)."),
    sigmas: str = typer.Option(None, "--sigmas", help="Contours to find, in Gaussian sigmas, "
                               "e.g. 1,2 \\[default: 1,2,3 = 68.3/95.4/99.7%]."),
    n_starts: int = typer.Option(4, "--n-starts"),
    store: Path = STORE_OPTION,
    out: Path = out_option(Path("jaxfit-results/cosmo-profile"),
                           help="Results folder (MODEL_profile.json, .csv, .png)."),
):
    """Profile likelihood over one or two parameters (default: the Om0-H0 contours).

    With names only, the grid is built around the best fit from its Hessian and refined
    until every contour is closed and resolved; NAME=start:stop:n gives a fixed grid (a
    warning says when it is too coarse for the contours)."""
    from jaxfit.core.contours import explicit_profile
    from jaxfit.core.contours import profile as find_contours
    from jaxfit.core.provenance import run_record
    from jaxfit.core.scan import levels_for_sigmas, parse_grid
    from jaxfit.cosmo.objective import chi2

    out = _writable_out(out)
    data, spec = _data(model, datasets, store)
    axes = [axis.partition("=") for axis in (x, y) if axis]
    names = [name.strip() for name, _, _ in axes]
    free = [n for n in spec.free_names] + [n for n in names if n not in spec.free_names]
    try:
        levels = None if sigmas is None else levels_for_sigmas(
            [_number(v, "--sigmas") for v in parse_list(sigmas, "--sigmas")], len(names))
        if all(sep for _, sep, _ in axes):
            grid = {name: parse_grid(text) for name, (_, _, text) in zip(names, axes,
                                                                          strict=True)}
            result = explicit_profile(chi2, spec.free_only(free), grid, data=data,
                                      levels=levels, n_starts=n_starts)
        elif any(sep for _, sep, _ in axes):
            raise ValueError("--x/--y must both be NAME (automatic grid) or both "
                             "NAME=start:stop:n")
        else:
            result = find_contours(chi2, spec.free_only(free), names, data=data,
                                   levels=levels, n_starts=n_starts)
    except (KeyError, ValueError) as err:
        raise typer.BadParameter(message_of(err), param_hint="--x/--y/--sigmas") from None
    paths = result.save(out, f"{model}_profile", run_record(model=model, datasets=datasets))
    say(f"{model} on {datasets}: {result.summary()}")
    say(f"wrote {paths['png']}")


@cosmo_app.command("sample")
def sample(
    model: str = typer.Option("lcdm", "--model"),
    datasets: str = typer.Option("cmb,bao", "--datasets"),
    chains: int = typer.Option(4, "--chains"),
    warmup: int = typer.Option(500, "--warmup"),
    samples: int = typer.Option(1000, "--samples"),
    seed: int = typer.Option(0, "--seed"),
    store: Path = STORE_OPTION,
    out: Path = out_option(
        None,
        help="Output folder \\[default: the --resume folder, else jaxfit-results/cosmo-sample].",
    ),
    resume: Path = typer.Option(
        None, "--resume",
        help="Continue the chains saved in this folder with no new warmup: --samples more "
             "draws per chain are appended (chains, warmup and seed are the saved run's).",
    ),
):
    """NUTS posterior (flat priors inside the bounds) from the same chi2, starting at the store.

    Writes MODEL_nuts.nc (ArviZ netCDF), MODEL_nuts_draws.csv, MODEL_nuts.png (corner plot
    with the Hessian ellipses at the store point), MODEL_nuts.json/.csv (summary) and
    MODEL_nuts_state.json (what --resume continues from).
    """
    from jaxfit.core.posterior import read_posterior
    from jaxfit.core.provenance import run_record
    from jaxfit.core.sampling import resume_nuts, sample_nuts
    from jaxfit.core.uncertainty import hessian_uncertainty
    from jaxfit.cosmo.objective import chi2

    stem = f"{model}_nuts"
    if resume is not None:
        checks.existing_folder(resume, "--resume folder")
    out = _writable_out(out or resume or Path("jaxfit-results/cosmo-sample"))
    data, spec = _data(model, datasets, store)
    earlier = None
    if resume is None:
        result = sample_nuts(chi2, spec, data=data, num_chains=chains, num_warmup=warmup,
                             num_samples=samples, seed=seed, init=dict(spec.defaults))
    else:
        previous = read_posterior(resume, stem)
        earlier = read_json(Path(resume) / f"{stem}.json", "--resume record").get("provenance")
        saved_datasets = (earlier or {}).get("datasets", datasets)
        if set(parse_list(saved_datasets, "--datasets")) != set(parse_list(datasets, "--datasets")):
            raise typer.BadParameter(f"the chains in {resume} sampled {saved_datasets}, "
                                     f"not {datasets}", param_hint="--datasets")
        result = resume_nuts(chi2, spec, previous, data=data, num_samples=samples)
    reference = hessian_uncertainty(chi2, spec, dict(spec.defaults), data=data)
    provenance = run_record(seeds={"nuts": result.seed}, model=model, datasets=datasets,
                            continues=earlier)
    paths = result.save(out, stem, provenance, reference=reference)
    say(result.table.to_string(float_format=lambda v: f"{v:.5g}"))
    say(result.summary())
    say(f"wrote {paths['nc']}, {paths['draws'].name}, {paths['png'].name}, "
        f"{paths['state'].name}")


@cosmo_app.command("regression")
def regression(
    quick: bool = typer.Option(
        False, "--quick", help="Recompute chi2 at the stored optima only (no re-fit)."
    ),
    store: Path = STORE_OPTION,
    out: Path = out_option(None, help="Also write the table in this folder "
                           "(regression.json)."),
):
    """Check every stored optimisation reproduces (chi2 and constrained parameters, 1e-8)."""
    from jaxfit.cosmo.regression import REGRESSION_RTOL
    from jaxfit.cosmo.regression import regression as run_regression

    store = _store(store)
    out = _writable_out(out)
    rows = run_regression(store, quick=quick)
    if not rows:
        say("no stored optimisation to check")
        return
    for r in rows:
        verdict = "reproduced" if r["reproduced"] else "NOT reproduced"
        line = (f"{r['model']} ({r['datasets']}, {r['mode']}): chi2 {r['chi2_stored']:.10g} -> "
                f"{r['chi2_new']:.10g} (rel. diff {r['chi2_rel_diff']:.1e})")
        if r["worst_param"]:
            line += f"; worst parameter {r['worst_param']} rel. diff {r['worst_rel_diff']:.1e}"
        if r["skipped_unconstrained"]:
            line += f"; not compared (unconstrained): {', '.join(r['skipped_unconstrained'])}"
        say(f"{line}; tolerance {REGRESSION_RTOL:g}: {verdict}")
    if out is not None:
        write_json(Path(out) / "regression.json", {"rows": rows, "rtol": REGRESSION_RTOL})
    failed = [r["model"] for r in rows if not r["reproduced"]]
    if failed:
        raise RuntimeError(f"regression not reproduced (models {', '.join(failed)}): the "
                           f"stored chi2 within relative {REGRESSION_RTOL:g} was expected")


def demo_part(out: Path, quiet: bool = False) -> dict:
    """``jaxfit demo``: LCDM and PBUF fits to CMB + DESI DR2 BAO with a store in ``out``."""
    from jaxfit.core.provenance import run_record
    from jaxfit.core.report import table_html
    from jaxfit.cosmo.datasets import load_bao
    from jaxfit.cosmo.fit import optimize_parameters
    from jaxfit.cosmo.report import optimization_rows, plot_bao_residuals
    from jaxfit.cosmo.store import OptimizedParameterStore

    folder = Path(out) / "cosmo"
    store = OptimizedParameterStore(folder / "store")
    results = {
        model: optimize_parameters(model, "cmb,bao", store=store, n_starts=4,
                                   progress=not quiet)
        for model in ("lcdm", "pbuf")
    }
    plot_bao_residuals({m: store.get_model_defaults(m) for m in results}, load_bao("desi_dr2"),
                       folder / "bao_residuals.png")
    for model, result in results.items():
        result.save(folder, f"{model}_fit")
    summary = []
    for model, r in results.items():
        errors = r.metadata["errors"]
        summary.append(
            f"{model} CMB+BAO: chi2 = {r.final_chi2:.2f}, H0 = {r.optimized_params['H0']:.2f} "
            f"+- {errors['H0']:.2f}, Om0 = {r.optimized_params['Om0']:.4f} +- "
            f"{errors['Om0']:.4f}; unconstrained: {', '.join(r.metadata['unconstrained']) or '-'}"
        )
    section = {
        "title": "Cosmology: LCDM and PBUF on Planck 2018 distance priors + DESI DR2 BAO",
        "text": [
            "Both models fitted with multi-start L-BFGS, Hessian errors, the best fits stored "
            "as the new defaults in a parameter store inside this results folder. PBUF's "
            "extra parameters barely change the predictions, so the Hessian reports them as "
            "unconstrained instead of quoting meaningless errors.",
            *summary,
        ],
        "table": table_html(optimization_rows(store)),
        "images": ["cosmo/bao_residuals.png"],
        "files": ["cosmo/lcdm_fit.json", "cosmo/pbuf_fit.json", "cosmo/store/lcdm.json",
                  "cosmo/store/pbuf.json"],
    }
    return {"section": section, "summary": summary, "provenance": run_record(store=str(folder))}


