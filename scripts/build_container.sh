#!/usr/bin/env bash
# Build the baler image (containers/Containerfile) with podman or docker:
#   bash scripts/build_container.sh [TAG]          # TAG defaults to localhost/baler:latest
# Environment:
#   ENGINE      podman or docker (default: podman if installed)
#   BASE        a Debian bookworm image; by default docker.io/library/debian:bookworm-slim, or, where that cannot
#               be pulled (BASE_FROM=debootstrap forces it), localhost/baler-base:bookworm made here with
#               `debootstrap --variant=minbase` from the Debian mirror apt already uses (root, debootstrap)
#   TORCH_SPEC  pip arguments for torch (default: the CPU build: a local +cpu wheel in pip's find-links, else
#               the PyTorch CPU index); e.g. TORCH_SPEC="torch==2.13.0" for PyPI's CUDA build
#   EXTRAS      baler's extras (default baselines,cfd,sim,slurm)
# Pip's settings on this host (find-links, index URLs) are passed on as build arguments, local folders among
# them mounted read-only into the build (podman); pip's certificate bundle goes in as the build secret `pipcert`.
# Prints the build time and the image size.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
TAG=${1:-localhost/baler:latest}
if [ -z "${ENGINE:-}" ]; then
    if command -v podman >/dev/null; then ENGINE=podman; elif command -v docker >/dev/null; then ENGINE=docker
    else echo "build_container.sh: neither podman nor docker is installed (apt-get install podman)" >&2; exit 3; fi
fi
if [ "$ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF=$PWD/containers/containers.conf
fi

make_base() {  # a minimal Debian bookworm root file system, imported as an image
    local image=localhost/baler-base:bookworm root mirror
    if $ENGINE image inspect "$image" >/dev/null 2>&1; then echo "$image"; return; fi
    command -v debootstrap >/dev/null || { echo "build_container.sh: no base image; apt-get install debootstrap" >&2; return 1; }
    mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d \
             2>/dev/null | head -n 1 | awk '{print $2}' || true)
    root=$(mktemp -d "${TMPDIR:-/tmp}/baler-base.XXXXXX")
    echo "debootstrap bookworm from ${mirror:-http://deb.debian.org/debian}" >&2
    if ! debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >&2; then
        rm -rf "$root"
        echo "build_container.sh: debootstrap failed" >&2
        return 1
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | $ENGINE import - "$image" >&2
    rm -rf "$root"
    echo "$image"
}

if [ -z "${BASE:-}" ]; then
    if [ "${BASE_FROM:-pull}" != debootstrap ] && timeout 120 $ENGINE pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
        BASE=docker.io/library/debian:bookworm-slim
    else
        BASE=$(make_base)
    fi
fi

# pip's settings here: find-links and index URLs (local folders are mounted into the build), the certificate
pip_get() { python3 -m pip config get "global.$1" 2>/dev/null || true; }
FIND_LINKS=${PIP_FIND_LINKS:-$(pip_get find-links)}
EXTRA_INDEX=${PIP_EXTRA_INDEX_URL:-$(pip_get extra-index-url)}
INDEX=${PIP_INDEX_URL:-$(pip_get index-url)}
CERT=${PIP_CERT:-$(pip_get cert)}
args=(--build-arg "BASE=$BASE" --build-arg "EXTRAS=${EXTRAS:-baselines,cfd,sim,slurm}"
      --build-arg "PIP_FIND_LINKS=$FIND_LINKS" --build-arg "PIP_EXTRA_INDEX_URL=$EXTRA_INDEX"
      --build-arg "PIP_INDEX_URL=$INDEX")
if [ "$ENGINE" = podman ]; then
    for loc in $FIND_LINKS $EXTRA_INDEX $INDEX; do
        dir=${loc#file://}
        case $dir in /*) [ -d "$dir" ] || continue
            top=$(echo "$dir" | cut -d/ -f1-3)  # /opt/pypi/simple -> /opt/pypi: index pages link to ../../files
            args+=(-v "$top:$top:ro") ;; esac
    done
fi
if [ -z "${TORCH_SPEC:-}" ]; then
    for loc in $FIND_LINKS; do
        wheel=$(ls "${loc#file://}"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -n "$wheel" ]; then
            TORCH_SPEC="torch==$(basename "$wheel" | cut -d- -f2)"
            break
        fi
    done
fi
[ -n "${TORCH_SPEC:-}" ] && args+=(--build-arg "TORCH_SPEC=$TORCH_SPEC")
[ -n "$CERT" ] && [ -f "$CERT" ] && args+=(--secret "id=pipcert,src=$CERT")

echo "building $TAG with $ENGINE from $BASE (torch: ${TORCH_SPEC:-the Containerfile default})"
t0=$SECONDS
$ENGINE build -f containers/Containerfile -t "$TAG" "${args[@]}" .
echo "built $TAG in $((SECONDS - t0)) s"
$ENGINE image inspect "$TAG" --format '{{.Size}}' | awk '{printf "image size: %.0f MB\n", $1 / 1e6}'
