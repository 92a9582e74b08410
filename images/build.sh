#!/usr/bin/env bash
# Builds every image under images/ (one folder, one Dockerfile) and, with --push, pushes it.
#
#   images/build.sh --registry REGISTRY --tag TAG [--tag TAG ...] [--push] [--print]
#
# Image names are kfp-mlops-<folder> (kfp_mlops.images.IMAGES names the same ones); the
# build context is the repository root. An empty --tag is skipped, so Cloud Build can pass
# "$TAG_NAME" on every build (it is empty on branch builds); the first tag must be set,
# and `latest` is refused. --print shows the docker commands and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

registry=""
tags=()
first_tag_seen=0
push=0
print=0
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="${2:-}"; shift 2 ;;
    --tag)
      if [ "$first_tag_seen" = 0 ] && [ -z "${2:-}" ]; then
        echo "images/build.sh: the first --tag is empty (on Cloud Build, set SHORT_SHA:" \
             "gcloud builds submit --substitutions SHORT_SHA=\$(git rev-parse --short HEAD))" >&2
        exit 2
      fi
      first_tag_seen=1
      if [ -n "${2:-}" ]; then tags+=("$2"); fi
      shift 2 ;;
    --push) push=1; shift ;;
    --print) print=1; shift ;;
    *) echo "images/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$registry" ] || [ "${#tags[@]}" = 0 ]; then
  echo "usage: images/build.sh --registry REGISTRY --tag TAG [--tag TAG ...] [--push] [--print]" >&2
  exit 2
fi
for tag in "${tags[@]}"; do
  if [ "$tag" = latest ] || ! [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    echo "images/build.sh: tag '$tag': expected a fixed tag such as a version or a commit" >&2
    exit 2
  fi
done

run() {
  if [ "$print" = 1 ]; then echo "$*"; else "$@"; fi
}

for dockerfile in images/*/Dockerfile; do
  folder="$(basename "$(dirname "$dockerfile")")"
  image="${registry%/}/kfp-mlops-${folder}"
  tag_args=()
  for tag in "${tags[@]}"; do tag_args+=(--tag "${image}:${tag}"); done
  run docker build --file "$dockerfile" "${tag_args[@]}" .
  if [ "$push" = 1 ]; then
    for tag in "${tags[@]}"; do run docker push "${image}:${tag}"; done
  fi
done
