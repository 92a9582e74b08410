#!/usr/bin/env bash
# Reuse check against the newest kfp release: teams that reuse kfp-mlops rarely run the
# kfp we lock. In a throw-away virtualenv holding only the newest kfp and this package
# (installed with --no-deps: no TensorFlow, no Google Cloud SDK), every pipeline must
# compile, and every components/*/component.yaml must load and compose the pipelines.
#
#   .ci/newer_kfp.sh            (PYTHON=python3.12 .ci/newer_kfp.sh for another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install kfp
# Built outside the tree so the checkout gets no build/ or egg-info of this install.
cp -r setup.py README.md components pipelines images "$work/"
find "$work" -name __pycache__ -prune -exec rm -rf {} +
"${pip[@]}" install --no-deps "$work"

cd "$work"  # import kfp_mlops from the venv, not from the checkout
"$work/venv/bin/python" -c 'import kfp, kfp_mlops.pipelines as p; print("newest kfp", kfp.__version__, "with kfp-mlops", p.__version__)'
"$work/venv/bin/python" "$OLDPWD/.ci/newer_kfp_check.py" sources
"$work/venv/bin/python" "$OLDPWD/.ci/newer_kfp_check.py" specs
echo "newer kfp check passed"
