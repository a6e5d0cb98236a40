#!/usr/bin/env bash
# The one prepared GPU check, for a session that is lent a GPU (device tool, H100/H200).
#
#   here, once:  benchmarks/gpu_check.sh prepare
#       fills .gpu/ (ignored by git, ~15 MB): wheels of what the GPU image lacks (it has
#       jax[cuda13], flax, optax, numpyro, scipy, pandas, typer, rich, filelock, jinja2,
#       pyarrow, pytest, hypothesis; it lacks astropy and platformdirs) and a copy of the
#       SPARC rotation curves from ../shared/data (that folder does not travel).
#   there:       device run, carry [".gpu"], timeout_s 570:
#                benchmarks/gpu_check.sh run
#       installs the wheels and copies jaxfit into $SITE (default /tmp/site; no network
#       there), prints the device,
#       runs the small benchmark suite on cpu and gpu (benchmarks/suite.py), then the
#       GPU-parity tests (tests/test_gpu_parity.py); everything lands in $OUT:
#       gpu_table.md (device, date, commit and the table, ready for RESULTS.md), results.json,
#       results.md, results.png, bench.log, parity.log, device.txt.
#
# Each part has its own time limit so the call ends inside the device tool's 10 minutes
# and a slow part still leaves the others' output. Record the table printed in bench.log in
# benchmarks/RESULTS.md with the device, the date and the commit.
set -uo pipefail

WHEELS="astropy==8.0.2 astropy-iers-data==0.2026.11.16.0.37.44 pyerfa==2.0.1.5 platformdirs==4.14.9"
SITE=${SITE:-/tmp/site}  # where the wheels and the jaxfit copy are installed
BENCH_LIMIT_S=${BENCH_LIMIT_S:-360}
PARITY_LIMIT_S=${PARITY_LIMIT_S:-150}

prepare() {
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
    mkdir -p .gpu/wheels .gpu/data
    # the device gets a copy of the working tree without .git: the commit travels as a file
    { git rev-parse HEAD; git diff --quiet HEAD || echo "(with uncommitted changes)"; } \
        > .gpu/commit
    if [ -d ../shared/data/sparc ]; then cp -r ../shared/data/sparc .gpu/data/; fi
    for wheel in $WHEELS; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d .gpu/wheels "$wheel" || { echo "could not download $wheel" >&2; exit 1; }
    done
    du -sh .gpu
}

run() {
    : "${OUT:?OUT must name the folder whose files come back}"
    mkdir -p "$SITE"
    if compgen -G ".gpu/wheels/*.whl" > /dev/null; then  # none here: this machine has them
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" .gpu/wheels/*.whl || exit 1
    fi
    # jaxfit as pip would lay it out (jaxfit.data is the top-level data/ folder), without
    # a build step: the image's setuptools is not ours to rely on
    rm -rf "$SITE/jaxfit" "$SITE/benchmarks"
    cp -r jaxfit benchmarks "$SITE/" && cp -r data "$SITE/jaxfit/data"
    local repo=$PWD
    cd "$SITE/.."  # so the checkout's jaxfit/ (without jaxfit.data) does not shadow the copy
    export PYTHONPATH=$SITE PYTHONUNBUFFERED=1 JAXFIT_COMPILE_CACHE=0 \
        JAXFIT_DATA=$repo/.gpu/data
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
    python3 -c "import jax, jaxfit; print('jax', jax.__version__, jax.devices())" \
        | tee -a "$OUT/device.txt"
    timeout "$BENCH_LIMIT_S" python3 -m benchmarks --size small --platforms cpu,gpu \
        --out "$OUT" 2>&1 | tee "$OUT/bench.log"
    echo "bench exit: ${PIPESTATUS[0]}" | tee -a "$OUT/bench.log"
    # the block RESULTS.md takes: device, date, commit, then the table (results.md)
    { echo "## GPU check, $(date -u +%Y-%m-%d)"; echo
      echo "- device: $(head -2 "$OUT/device.txt" | tail -1)"
      echo "- commit: $(tr '\n' ' ' < "$repo/.gpu/commit" 2>/dev/null || echo unknown)"; echo
      cat "$OUT/results.md" 2>/dev/null || echo "(no table: see bench.log)"; } > "$OUT/gpu_table.md"
    # -c /dev/null: the project's pytest options name plugins (nbmake) the image lacks
    timeout "$PARITY_LIMIT_S" python3 -m pytest -q -c /dev/null -p no:cacheprovider \
        --rootdir "$repo" "$repo/tests/test_gpu_parity.py" 2>&1 | tee "$OUT/parity.log"
    echo "parity exit: ${PIPESTATUS[0]}" | tee -a "$OUT/parity.log"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: benchmarks/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
