#!/usr/bin/env bash
# Reuse check against the newest kfp release: teams that reuse kfp-mlops rarely run the
# kfp we lock. In a throw-away virtualenv holding only the newest kfp, the newest
# google-cloud-pipeline-components and docker SDK (resolved together with it) and this
# package (installed with --no-deps: no TensorFlow, no TFDV):
#   - every pipeline compiles, and every components/*/component.yaml loads and composes them;
#   - push's outputs feed GCPC's ModelDeployOp / ModelBatchPredictOp / ModelUploadOp, and
#     GCPC's own launcher code reads them into valid Vertex AI requests;
#   - kfp_mlops.pipelines.kfp_local_adapter finds every kfp.local internal it patches there
#     (the Docker runner's too), and its Docker patches apply and are undone;
#   - the data-validation pipeline runs on that kfp's kfp.local through
#     kfp_mlops.pipelines.local, its tasks in the locked .venv (RUNTIME_PYTHON), because
#     TFDV does not install beside the newest kfp.
#
#   .ci/newer_kfp.sh            (PYTHON=python3.12 .ci/newer_kfp.sh for another interpreter;
#                                RUNTIME_PYTHON=... for the interpreter the tasks run in)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
python="${PYTHON:-python3}"
runtime_python="${RUNTIME_PYTHON:-$repo/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --quiet --disable-pip-version-check)
# One resolution for both, so the GCPC we check is one that installs beside the newest kfp;
# with the docker SDK of the `docker` extra (newer kfp.local imports it in its Docker runner's
# module, which the adapter check reads).
"${pip[@]}" install kfp google-cloud-pipeline-components "docker>=7"
# Built outside the tree so the checkout gets no build/ or egg-info of this install.
cp -r setup.py README.md components pipelines images "$work/"
find "$work" -name __pycache__ -prune -exec rm -rf {} +
"${pip[@]}" install --no-deps "$work"

cd "$work"  # import kfp_mlops from the venv, not from the checkout
"$work/venv/bin/python" -c 'import kfp, google_cloud_pipeline_components as g, kfp_mlops.pipelines as p; print("newest kfp", kfp.__version__, "with google-cloud-pipeline-components", g.__version__, "and kfp-mlops", p.__version__)'
"$work/venv/bin/python" "$repo/.ci/newer_kfp_check.py" sources
"$work/venv/bin/python" "$repo/.ci/newer_kfp_check.py" specs
"$work/venv/bin/python" "$repo/.ci/newer_kfp_check.py" gcpc
"$work/venv/bin/python" "$repo/.ci/newer_kfp_check.py" adapter
"$work/venv/bin/python" "$repo/.ci/newer_kfp_check.py" local-run "$runtime_python"
echo "newer kfp check passed"
