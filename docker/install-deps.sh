#!/bin/sh
# Install Byline's dependencies into the current Python environment, the same way everywhere
# (the Dockerfile and `make install` run this): the CPU build of torch first, pinned, then the
# [project] dependencies of pyproject.toml with that torch held fixed, so that nothing
# (sentence-transformers' "torch" requirement included) can swap in a multi-GB CUDA build.
#
# usage: docker/install-deps.sh PYPROJECT [EXTRA ...]
#   TORCH_SPEC        requirement for torch, required (e.g. torch==2.13.0+cpu; keep it a CPU build)
#   TORCH_INDEX_URL   index to take torch (and its own dependencies) from; empty: pip's default
#   TORCH_FIND_LINKS  folder of wheels to look in first for torch (e.g. docker/wheels); optional
#   PYTHON            interpreter whose environment gets the packages (default: python3)
set -eu

pyproject=${1:?usage: install-deps.sh PYPROJECT [EXTRA ...]}
shift
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:?set TORCH_SPEC, e.g. torch==2.13.0+cpu (the Dockerfile passes its ARG)}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# The requirement set: [project] dependencies (+ the extras named) from pyproject.toml.
"$python" - "$pyproject" "$@" > "$workdir/requirements.txt" <<'PY'
import pathlib
import sys
import tomllib

pyproject, *extras = sys.argv[1:]
project = tomllib.loads(pathlib.Path(pyproject).read_text())["project"]
requirements = list(project.get("dependencies", []))
for extra in extras:
    requirements += project.get("optional-dependencies", {})[extra]
print("\n".join(requirements))
PY

# 0. A pip that normalizes extras' names (PEP 685): older ones (Debian bookworm's venv has 23.0.1)
#    silently drop e.g. justext's lxml[html_clean]. (pyproject.toml also names lxml_html_clean
#    itself, so a plain `pip install .` with an old pip works too.)
"$python" -m pip install "pip>=24.2"

# 1. torch, CPU build.
set --
if [ -n "${TORCH_FIND_LINKS:-}" ] && [ -d "$TORCH_FIND_LINKS" ]; then
    set -- --find-links "$TORCH_FIND_LINKS"
fi
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    set -- "$@" --index-url "$TORCH_INDEX_URL"
fi
"$python" -m pip install "$@" "$torch_spec"

# 2. The rest, with the torch just installed as a hard constraint.
"$python" -c 'import importlib.metadata as m; print("torch==" + m.version("torch"))' \
    > "$workdir/constraints.txt"
"$python" -m pip install -r "$workdir/requirements.txt" -c "$workdir/constraints.txt"

# 3. Refuse a GPU stack: nothing CUDA-only may have come in.
"$python" - <<'PY'
import importlib.metadata
import sys

import torch

gpu = sorted(
    d.metadata["Name"]
    for d in importlib.metadata.distributions()
    if d.metadata["Name"].lower().startswith(("nvidia-", "triton", "cuda-"))
)
if gpu or torch.version.cuda:
    sys.exit(f"CUDA packages were installed: {gpu or ''} torch.version.cuda={torch.version.cuda}")
print(f"torch {torch.__version__} (CPU only), no nvidia-* packages")
PY
