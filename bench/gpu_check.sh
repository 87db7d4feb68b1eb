#!/usr/bin/env bash
# GPU ready: training step (fp32 vs bf16 + channels-last), fp16 export drift and the service's
# img/s on CUDA, as one table (bench/gpu_check.py). `--dry-run`: every step on CPU, tiny sizes.
#
#   bench/gpu_check.sh [--dry-run]        PYTHON=path/to/python to choose the interpreter
#
# On a CUDA machine whose onnxruntime has no CUDA provider, onnxruntime-gpu of the same version
# is installed into a throwaway folder put first on PYTHONPATH (the environment is not touched),
# and the CUDA libraries the torch wheels brought are put on LD_LIBRARY_PATH for it.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi

dry=0
for arg in "$@"; do [[ "$arg" == "--dry-run" ]] && dry=1; done

if [[ $dry == 0 ]] && "$python" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    if ! "$python" -c "import sys, onnxruntime as o; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
        target="$(mktemp -d "${TMPDIR:-/tmp}/pm-ort-gpu.XXXXXX")"
        trap 'rm -rf "$target"' EXIT
        version="$("$python" -c "import onnxruntime; print(onnxruntime.__version__)")"
        echo "installing onnxruntime-gpu==$version into $target (removed at exit) ..." >&2
        # --no-deps: its dependencies are onnxruntime's, already here
        "$python" -m pip install --quiet --no-deps --target "$target" "onnxruntime-gpu==$version"
        export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
    fi
    libs="$("$python" - <<'EOF'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
found = {d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))}
print(":".join(sorted(found)))
EOF
)"
    if [[ -n "$libs" ]]; then export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
fi
"$python" bench/gpu_check.py "$@"
