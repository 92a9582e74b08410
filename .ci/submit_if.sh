#!/usr/bin/env bash
# Runs `kfp-mlops submit ARGS...` when FLAG is "true"; otherwise says so and succeeds.
#
#   .ci/submit_if.sh FLAG PIPELINE --vertex ...
#
# Cloud Build has no conditional steps; cloudbuild.yaml passes its _SUBMIT substitution as
# FLAG. kfp-mlops is taken from the repository's .venv when there is one.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
flag="${1:-}"
shift || true
case "$flag" in
  true) ;;
  false|"") echo "submit skipped (flag is '${flag}'; pass true to submit)"; exit 0 ;;
  *) echo ".ci/submit_if.sh: flag '$flag': expected true or false" >&2; exit 2 ;;
esac
if [ -x "$here/.venv/bin/kfp-mlops" ]; then
  exec "$here/.venv/bin/kfp-mlops" submit "$@"
fi
exec kfp-mlops submit "$@"
