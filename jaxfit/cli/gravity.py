"""``jaxfit gravity``: the research theory-kernel workflows (MW fit, SPARC zero-shot,
cluster amplitude, joint fit), with the research scripts' flags.

Each command writes its result's three files (:meth:`jaxfit.core.results.Result.save`)
into the folder ``--out DIR`` (default ``jaxfit-results/gravity``), named by the command
after the research scripts' outputs: ``DIR/theory_metric_resonance_mw_fit.json/.csv/.png``
and so on (:data:`STEMS`). The old file-valued ``--out-json FILE`` / ``--out-csv FILE``
still work for one release (hidden; one deprecation note): they write ``FILE``'s stem in
``FILE``'s folder. Errors become one line (:mod:`jaxfit.cli.boundary`).

Every command checks, in this order and before any compilation or fit: its option values
(speeds in (0, 1e4] km/s, the band 0 < r_min < r_max, counts, weights; the physical
ceilings of :mod:`jaxfit.gravity.limits`), its input files (each reader checks every value
and names file, line or key), then that its output folder is writable and that none of its
three files is a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from jaxfit.cli.state import alias_option, deprecated, out_option, say, show_progress

gravity_app = typer.Typer(
    help="Sigma-Gravity theory kernel: Milky Way, SPARC, clusters.", no_args_is_help=True
)

OUT_DIR = Path("jaxfit-results/gravity")
STEMS = {
    "mw-fit": "theory_metric_resonance_mw_fit",
    "sparc-batch": "theory_kernel_sparc_from_mw",
    "cluster-amp": "theory_kernel_cluster_amp_fit",
    "joint": "theory_kernel_joint_fit",
}
"""The files each command writes in ``--out DIR`` (STEM.json, STEM.csv, STEM.png)."""
OUT = out_option(None, help=f"Results folder \\[default: {OUT_DIR}]; the command "
                 "writes STEM.json, .csv and .png there (STEM: the research script's name).")
OUT_JSON = alias_option("--out-json")
OUT_CSV = alias_option("--out-csv")
PARQUET = typer.Option(
    None,
    "--baseline-parquet",
    help="Research star-level parquet (R, v_phi, v_phi_GR); radii of the "
    "MW kernel fit. Default: 64 even radii in the band.",
)
R_MIN = typer.Option(12.0, "--r-min", help="MW band, kpc.")
R_MAX = typer.Option(16.0, "--r-max", help="MW band, kpc.")
THEORY_JSON = typer.Option(
    OUT_DIR / f"{STEMS['mw-fit']}.json",
    "--theory-fit-json",
    help="Output of `jaxfit gravity mw-fit`.",
)
ROTMOD = typer.Option(
    None,
    "--rotmod-dir",
    help="SPARC Rotmod_LTG folder (default: the `jaxfit data sparc` download).",
)
SUMMARY = typer.Option(None, "--sparc-summary", help="CSV with per-galaxy sigma_v.")
GALAXY_COL = typer.Option("galaxy_name", "--summary-galaxy-col")
SIGMA_COL = typer.Option("sigma_velocity", "--summary-sigma-col")
CLUSTERS = typer.Option(
    "MACSJ0416,MACSJ0717,ABELL_1689", "--clusters", help="Comma list of packaged clusters."
)
METHOD = typer.Option("lbfgs", "--method", help="lbfgs (multi-start, default) or de.")
SEED = typer.Option(0, "--seed")
MAXITER = typer.Option(200, "--maxiter", help="Iterations (L-BFGS) or generations (DE).")


def _destination(out: Path | None, legacy: Path | None, flag: str, command: str):
    """``(folder, stem, option)`` of a command's results: ``--out DIR`` (default
    :data:`OUT_DIR`) with the command's stem, or the deprecated file-valued ``flag``
    (its folder and stem, after one note). Resolved first, so the note comes before any
    other message."""
    if legacy is None:
        return Path(out) if out is not None else OUT_DIR, STEMS[command], "--out"
    if out is not None:
        raise typer.BadParameter(f"give --out DIR, not both --out and {flag}",
                                 param_hint=flag)
    legacy = Path(legacy)
    deprecated(flag, "--out DIR", f"now: --out {legacy.parent}, which names the files "
               f"{STEMS[command]}.*")
    return legacy.parent, legacy.stem, f"the folder of {flag}"


def _output(destination) -> None:
    """Check that the three files of ``destination`` can be written, before the long work:
    the folder is created and probed (:func:`jaxfit.core.checks.writable_folder`) and none
    of ``stem.json/.csv/.png`` is a folder."""
    from jaxfit.core.checks import writable_folder

    folder, stem, option = destination
    folder = writable_folder(folder, what=option)
    for suffix in (".json", ".csv", ".png"):
        target = folder / f"{stem}{suffix}"
        if target.is_dir():
            raise ValueError(f"{option} ({folder}): {target} must be a file, got a folder")


def _counts(options: dict) -> None:
    """Check the optional positive integer options, ``{"--flag": value or None}``."""
    from jaxfit.core.checks import count

    for option, value in options.items():
        if value is not None:
            count(value, option)


def _stars(path, r_min, r_max):
    from jaxfit.gravity.milky_way import load_baseline_parquet

    return None if path is None else load_baseline_parquet(path, r_min, r_max)


def _sparc(rotmod_dir, summary, galaxy_col, sigma_col, max_galaxies=None):
    from jaxfit.gravity.sparc import load_sparc

    return load_sparc(
        rotmod_dir,
        summary=summary,
        galaxy_col=galaxy_col,
        sigma_col=sigma_col,
        max_galaxies=max_galaxies,
    )


def _clusters(names: str, sigma_v: float):
    from jaxfit.gravity.cluster_set import load_clusters

    return load_clusters(names, sigma_v=sigma_v)


def _save(result, destination):
    """Save ``result`` as ``stem`` in ``folder`` (JSON, CSV, PNG) and say what was
    written."""
    folder, stem, _ = destination
    paths = result.save(folder, stem)
    say("wrote " + ", ".join(str(p) for p in paths.values()))


@gravity_app.command("mw-fit")
def mw_fit(
    baseline_parquet: Path = PARQUET,
    mw_fit_json: Path = typer.Option(
        None,
        "--mw-fit-json",
        help="Empirical-kernel fit JSON "
        "(A, lam_peak, sigma_ln, ...); default: the research MW fit.",
    ),
    r_min: float = R_MIN,
    r_max: float = R_MAX,
    sigma_v: float = typer.Option(30.0, "--sigma-v", help="MW velocity dispersion, km/s."),
    target: str = typer.Option(
        "kernel", "--target", help="kernel (shape of K_emp) or vc (the Eilers+2019 rotation curve)."
    ),
    require_positive_corr: bool = typer.Option(
        True, "--require-positive-corr/--allow-negative-corr"
    ),
    fit_q_ref: bool = typer.Option(True, "--Q-ref/--no-Q-ref", help="Fit Q_ref."),
    method: str = METHOD,
    n_starts: int = typer.Option(None, "--n-starts", help="Default: the fit's (8), as the demo."),
    seed: int = SEED,
    maxiter: int = typer.Option(
        None, "--maxiter", help="Iterations (L-BFGS) or generations (DE). Default: the fit's "
        "(1000 L-BFGS, 200 DE), as the demo."),
    out: Path = OUT,
    out_json: Path = OUT_JSON,
):
    """Fit the theory kernel to the empirical kernel (or the rotation curve) of the MW; the
    summary gives the fit status (converged, starts agreeing, errors, degeneracies)."""
    from jaxfit.core.checks import one_of
    from jaxfit.gravity.fit_files import read_empirical_json
    from jaxfit.gravity.limits import band, speed
    from jaxfit.gravity.mw_fit import mw_fit as fit_mw
    from jaxfit.gravity.params import RESEARCH_MW_EMPIRICAL

    destination = _destination(out, out_json, "--out-json", "mw-fit")
    one_of(target, "--target", ("kernel", "vc"))
    band(r_min, r_max, ("--r-min", "--r-max"))
    speed(sigma_v, "--sigma-v [km/s]")
    _counts({"--n-starts": n_starts, "--maxiter": maxiter})
    empirical = dict(RESEARCH_MW_EMPIRICAL)
    if mw_fit_json is not None:
        empirical |= read_empirical_json(mw_fit_json)
    stars = _stars(baseline_parquet, r_min, r_max)
    _output(destination)
    result = fit_mw(
        target=target,
        stars=stars,
        r_min=r_min,
        r_max=r_max,
        sigma_v=sigma_v,
        empirical=empirical,
        fit_q_ref=fit_q_ref,
        require_positive_corr=require_positive_corr,
        method=method,
        seed=seed,
        progress=show_progress(),
        # unset flags leave the fit's defaults, the demo's settings
        **{k: v for k, v in {"n_starts": n_starts, "maxiter": maxiter}.items() if v is not None},
    )
    say(result.summary())
    say(f"verdict: {result.verdict}")
    _save(result, destination)


@gravity_app.command("sparc-batch")
def sparc_batch(
    theory_fit_json: Path = THEORY_JSON,
    rotmod_dir: Path = ROTMOD,
    sparc_summary: Path = SUMMARY,
    summary_galaxy_col: str = GALAXY_COL,
    summary_sigma_col: str = SIGMA_COL,
    use_sigma_gating: bool = typer.Option(False, "--use-sigma-gating"),
    beta_sigma: float = typer.Option(1.0, "--beta-sigma"),
    y_disk: float = typer.Option(1.0, "--y-disk", help="Disc M/L (research 1; SPARC 0.5)."),
    y_bulge: float = typer.Option(1.0, "--y-bulge", help="Bulge M/L (research 1; SPARC 0.7)."),
    fit_upsilon: bool = typer.Option(False, "--fit-upsilon", help="Fit each galaxy's disc "
                                     "M/L (bulge 1.4x) at the given theta."),
    out: Path = OUT,
    out_csv: Path = OUT_CSV,
):
    """Apply the MW theta to every SPARC galaxy at once: delta_rms per galaxy."""
    from jaxfit.core.checks import real
    from jaxfit.gravity.criteria import sparc_verdict
    from jaxfit.gravity.fit_files import read_theory_json
    from jaxfit.gravity.limits import UPSILON_MAX
    from jaxfit.gravity.sparc_fit import sparc_batch as apply_to_sparc

    destination = _destination(out, out_csv, "--out-csv", "sparc-batch")
    for option, value in (("--y-disk", y_disk), ("--y-bulge", y_bulge)):
        real(value, f"{option} [Msun/Lsun]", nonnegative=True, high=UPSILON_MAX)
    real(beta_sigma, "--beta-sigma")
    params, sign = read_theory_json(theory_fit_json)
    batch = _sparc(rotmod_dir, sparc_summary, summary_galaxy_col, summary_sigma_col)
    _output(destination)
    result = apply_to_sparc(
        params,
        batch,
        phase_sign=sign,
        Y_d=y_disk,
        Y_b=y_bulge,
        use_sigma_gating=use_sigma_gating,
        beta_sigma=beta_sigma,
        fit_upsilon_per_galaxy=fit_upsilon,
    )
    say(result.summary())
    say(result.by_sigma().to_string())
    say(f"verdict: {sparc_verdict(result.stats)}")
    _save(result, destination)


@gravity_app.command("cluster-amp")
def cluster_amp(
    theory_fit_json: Path = THEORY_JSON,
    clusters: str = CLUSTERS,
    sigma_v_default: float = typer.Option(1000.0, "--sigma-v-default"),
    a_cluster_min: float = typer.Option(0.01, "--A-cluster-min"),
    a_cluster_max: float = typer.Option(1000.0, "--A-cluster-max"),
    out: Path = OUT,
    out_json: Path = OUT_JSON,
):
    """Fit one cluster amplitude to the Einstein-radius masses with the MW theta."""
    from jaxfit.core.checks import real
    from jaxfit.gravity.cluster_fit import cluster_amplitude
    from jaxfit.gravity.criteria import cluster_verdict
    from jaxfit.gravity.fit_files import read_theory_json
    from jaxfit.gravity.limits import speed

    destination = _destination(out, out_json, "--out-json", "cluster-amp")
    speed(sigma_v_default, "--sigma-v-default [km/s]")
    low = real(a_cluster_min, "--A-cluster-min", positive=True)
    if not low < real(a_cluster_max, "--A-cluster-max", positive=True):
        raise ValueError(f"--A-cluster-min must be < --A-cluster-max, got {a_cluster_min:g} "
                         f"and {a_cluster_max:g}")
    params, sign = read_theory_json(theory_fit_json)
    _output(destination)
    result = cluster_amplitude(
        params,
        _clusters(clusters, sigma_v_default),
        phase_sign=sign,
        bounds=(a_cluster_min, a_cluster_max),
    )
    say(result.summary())
    say(f"verdict: {cluster_verdict(result.ratio, result.table['mass_ratio'])}")
    _save(result, destination)


@gravity_app.command("joint")
def joint(
    baseline_parquet: Path = PARQUET,
    r_min: float = R_MIN,
    r_max: float = R_MAX,
    sigma_v_mw: float = typer.Option(30.0, "--sigma-v-mw"),
    rotmod_dir: Path = ROTMOD,
    sparc_summary: Path = SUMMARY,
    summary_galaxy_col: str = GALAXY_COL,
    summary_sigma_col: str = SIGMA_COL,
    max_sparc_galaxies: int = typer.Option(None, "--max-sparc-galaxies"),
    clusters: str = CLUSTERS,
    sigma_v_cluster: float = typer.Option(1000.0, "--sigma-v-cluster"),
    weight_mw: float = typer.Option(1.0, "--weight-mw"),
    weight_sparc: float = typer.Option(1.0, "--weight-sparc"),
    weight_cluster: float = typer.Option(1.0, "--weight-cluster"),
    use_sigma_gating: bool = typer.Option(False, "--use-sigma-gating"),
    sigma_ref: float = typer.Option(
        25.0, "--sigma-ref", help="sigma_v of galaxies without a summary value, km/s."
    ),
    beta_sigma: float = typer.Option(1.0, "--beta-sigma"),
    method: str = METHOD,
    n_starts: int = typer.Option(4, "--n-starts"),
    seed: int = SEED,
    maxiter: int = MAXITER,
    out: Path = OUT,
    out_json: Path = OUT_JSON,
):
    """One theta for MW + SPARC + clusters (A_cluster profiled), multi-start L-BFGS or DE."""
    from jaxfit.core.checks import finite_array, real
    from jaxfit.gravity.criteria import verdict
    from jaxfit.gravity.joint import joint_fit
    from jaxfit.gravity.limits import band, speed
    from jaxfit.gravity.sparc import load_sparc

    destination = _destination(out, out_json, "--out-json", "joint")
    band(r_min, r_max, ("--r-min", "--r-max"))
    for option, value in (("--sigma-v-mw", sigma_v_mw), ("--sigma-v-cluster", sigma_v_cluster),
                          ("--sigma-ref", sigma_ref)):
        speed(value, f"{option} [km/s]")
    weights = (weight_mw, weight_sparc, weight_cluster)
    finite_array(weights, "--weight-mw, --weight-sparc, --weight-cluster", nonnegative=True)
    if not any(weights):
        raise ValueError("--weight-mw, --weight-sparc, --weight-cluster must not all be 0")
    real(beta_sigma, "--beta-sigma")
    _counts({"--n-starts": n_starts, "--maxiter": maxiter,
             "--max-sparc-galaxies": max_sparc_galaxies})
    batch = load_sparc(
        rotmod_dir,
        summary=sparc_summary,
        galaxy_col=summary_galaxy_col,
        sigma_col=summary_sigma_col,
        default_sigma_v=sigma_ref,
        max_galaxies=max_sparc_galaxies,
    )
    stars = _stars(baseline_parquet, r_min, r_max)
    _output(destination)
    result = joint_fit(
        batch,
        _clusters(clusters, sigma_v_cluster),
        stars=stars,
        r_min=r_min,
        r_max=r_max,
        weights=weights,
        sigma_v_mw=sigma_v_mw,
        use_sigma_gating=use_sigma_gating,
        beta_sigma=beta_sigma,
        method=method,
        n_starts=n_starts,
        seed=seed,
        maxiter=maxiter,
        progress=show_progress(),
    )
    say(result.summary())
    say(f"verdict: {verdict(result.metrics, converged=result.fit.success)}")
    _save(result, destination)


def demo_part(out: Path, quiet: bool = False) -> dict:
    """``jaxfit demo``: the MW kernel fit and the cluster amplitude, on packaged data."""
    from jaxfit.core.provenance import run_record
    from jaxfit.gravity.cluster_fit import cluster_amplitude
    from jaxfit.gravity.mw_fit import mw_fit as fit_mw

    folder = Path(out) / "gravity"
    # the CLI's `jaxfit gravity mw-fit` settings (the fit's defaults): the same optimum
    mw = fit_mw(progress=not quiet)
    mw_paths = mw.save(folder, "mw_fit")
    cluster = cluster_amplitude(mw.theory_fit_params, phase_sign=mw.phase_sign)
    cl_paths = cluster.save(folder, "cluster_amp")
    # each summary ends with its research verdict (the MW one only when the fit converged)
    summary = [mw.summary(), cluster.summary()]
    section = {
        "title": "Gravity: theory kernel on the Milky Way and three clusters",
        "text": [
            "The theory kernel fitted (8-start L-BFGS, research correlation penalty, the "
            "settings of `jaxfit gravity mw-fit`) "
            "to the research empirical kernel in the 12-16 kpc band, then one cluster "
            "amplitude for the Einstein masses of MACS J0416, MACS J0717 and Abell 1689 "
            "(profiled analytically). SPARC needs `jaxfit data sparc` and is not in the "
            "demo.",
            *summary,
        ],
        "images": [f"gravity/{mw_paths['png'].name}", f"gravity/{cl_paths['png'].name}"],
        "files": [f"gravity/{paths[kind].name}" for paths in (mw_paths, cl_paths)
                  for kind in ("json", "csv")],
    }
    return {"section": section, "summary": summary, "provenance": run_record(folder=str(folder))}


