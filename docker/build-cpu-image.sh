#!/usr/bin/env bash
# make image-cpu: the project's image on a machine with a Docker engine and no image registry.
#  1. a CPU base image from Debian's packages: debootstrap (minbase bookworm: Python 3.11, passwd for groupadd and
#     useradd, CA certificates), a venv at /opt/venv on PATH with the pinned CPU torch wheel, `docker import`ed as
#     msmonai-base:cpu;
#  2. the unchanged Dockerfile built FROM it (--build-arg BASE_IMAGE) as msmonai:cpu. Where the network inspects TLS,
#     the host's CA bundle reaches pip as a BuildKit secret: mounted for that one RUN, never written to a layer.
# Needs root (debootstrap, chroot) and a Docker engine. Environment: TORCH_SPEC (torch==2.13.0), TORCH_INDEX (an index
# with CPU wheels, e.g. https://download.pytorch.org/whl/cpu; default: pip's configuration), CA_BUNDLE
# (/etc/ssl/certs/ca-certificates.crt), DEBIAN_MIRROR, BUILD_DIR (build/cpu-base), BASE_TAG, IMAGE_TAG.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BUILD_DIR=${BUILD_DIR:-build/cpu-base}
BASE_TAG=${BASE_TAG:-msmonai-base:cpu}
IMAGE_TAG=${IMAGE_TAG:-msmonai:cpu}
DOCKER=$(docker/docker-cli.sh)

fail() { echo "make image-cpu: error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "debootstrap and chroot need root; run as root (or build the base elsewhere and set BASE_TAG)"
command -v debootstrap >/dev/null || fail "debootstrap missing: apt-get install debootstrap"
$DOCKER info >/dev/null 2>&1 || fail "no Docker engine answers (docs/deployment.md: starting dockerd without systemd)"

rootfs="$BUILD_DIR/rootfs"
if [ ! -x "$rootfs/opt/venv/bin/python" ]; then
  $DOCKER image rm "$BASE_TAG" > /dev/null 2>&1  # a new root file system makes a new base
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,passwd,ca-certificates bookworm "$rootfs" \
    "$DEBIAN_MIRROR" > "$BUILD_DIR/debootstrap.log" || fail "debootstrap failed; see $BUILD_DIR/debootstrap.log"
  rm -rf "$BUILD_DIR/wheels"
  python3 -m pip download --quiet --dest "$BUILD_DIR/wheels" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "$TORCH_SPEC" \
    || fail "pip could not download $TORCH_SPEC and its dependencies (set TORCH_INDEX to an index with CPU wheels)"
  mkdir -p "$rootfs/tmp/wheels" && cp "$BUILD_DIR"/wheels/* "$rootfs/tmp/wheels/"
  in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$rootfs" "$@"; }  # no host pip settings
  in_root python3 -m venv /opt/venv
  in_root /opt/venv/bin/pip install --quiet --no-index --no-cache-dir --find-links /tmp/wheels "$TORCH_SPEC"
  ln -sf python3 "$rootfs/opt/venv/bin/python"
  rm -rf "$rootfs/tmp/wheels" "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
fi
# imported once per root file system: a new import is a new base image, which would rebuild every layer above it
$DOCKER image inspect "$BASE_TAG" > /dev/null 2>&1 || tar -C "$rootfs" -c . | $DOCKER import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python"]' - "$BASE_TAG" >/dev/null

secret=()
[ -f "$CA_BUNDLE" ] && secret=(--secret "id=ca_bundle,src=$CA_BUNDLE")
DOCKER_BUILDKIT=1 $DOCKER build --network host --build-arg "BASE_IMAGE=$BASE_TAG" "${secret[@]}" -t "$IMAGE_TAG" .
echo "built $IMAGE_TAG from $BASE_TAG ($($DOCKER image inspect --format '{{.Size}}' "$IMAGE_TAG") bytes)"
