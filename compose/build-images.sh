#!/usr/bin/env bash
# Build every image the compose mesh needs on a machine that reaches no container
# registry: only Debian's mirror, PyPI (on the host) and the Go module proxy.
#
#   fallacies/base:bookworm       debootstrap minbase + python3, python3-venv, ca-certificates
#   fallacies/mesh:offline        compose/Dockerfile FROM the base, wheels built on the host
#   fallacies/toxiproxy:2.12.0    the real Toxiproxy (go install, static) FROM the base
#   fallacies/prometheus:bookworm Debian's prometheus package (a second debootstrap)
#   fallacies/mesh-toxiproxy:offline  the app image + Toxiproxy (the Swarm stack's)
#   fallacies/engine:bookworm     Debian's docker.io + docker-registry FROM the base
#                                 (a swarm of engines in containers, chaos/swarm/lab.py)
#
# The two debootstraps, the host's `pip wheel` and `go install` run in parallel.
# A step is skipped when its image exists (the app image: when its source hash
# matches), unless --rebuild. Progress and timings go to stderr; stdout gets only
# the overrides compose reads, so this works:
#
#   eval "$(compose/build-images.sh)"
#   docker compose -f compose/compose.yaml up -d --wait
#
# They are also written to compose/offline.env (`docker compose --env-file ...`).
# Needs root (debootstrap), docker, python3 + pip, go. FALLACIES_BUILD_DIR (default
# /var/tmp/fallacies-build) keeps the .deb and wheel caches between runs.
set -euo pipefail

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
REBUILD=0
for arg in "$@"; do
  case $arg in
    --rebuild) REBUILD=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${FALLACIES_BUILD_DIR:-/var/tmp/fallacies-build}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TOXIPROXY_VERSION=2.12.0
PYTHON=${PYTHON:-python3}

BASE_IMAGE=fallacies/base:$SUITE
FALLACIES_IMAGE=fallacies/mesh:offline
TOXIPROXY_IMAGE=fallacies/toxiproxy:$TOXIPROXY_VERSION
PROMETHEUS_IMAGE=fallacies/prometheus:$SUITE
TOXIPROXY_GATED_IMAGE=fallacies/mesh-toxiproxy:offline
ENGINE_IMAGE=fallacies/engine:$SUITE

mkdir -p "$WORK"
started=$(date +%s.%N)
elapsed() { awk -v t0="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t0 }'; }
say() { printf '[build-images %6ss] %s\n' "$(elapsed "$started")" "$*" >&2; }
have_image() { [[ $REBUILD == 0 ]] && docker image inspect "$1" >/dev/null 2>&1; }
image_label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# A root filesystem by debootstrap, trimmed and imported as an image.
#   rootfs IMAGE NAME PACKAGES [docker import --change ...]
rootfs() {
  local image=$1 name=$2 include=$3 t0
  shift 3
  t0=$(date +%s.%N)
  local dir=$WORK/rootfs-$name cache=$WORK/debs-$name
  rm -rf "$dir"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$include" --cache-dir="$cache" \
    "$SUITE" "$dir" "$MIRROR" >"$WORK/$name-debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/$name-debootstrap.log" >&2; return 1; }
  local t1
  t1=$(elapsed "$t0")
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
    "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
    "$dir"/usr/share/locale/* "$dir"/var/log/*.log
  if [[ $name == prometheus ]]; then
    install -d -o 65534 -g 65534 "$dir/prometheus"
  fi
  tar --numeric-owner -C "$dir" -c . | docker import "$@" - "$image" >/dev/null
  rm -rf "$dir"
  say "$image: debootstrap ${t1}s, total $(elapsed "$t0")s"
}

build_base() {
  if have_image "$BASE_IMAGE"; then say "$BASE_IMAGE exists (cached)"; return; fi
  rootfs "$BASE_IMAGE" base python3,python3-venv,ca-certificates \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]'
}

build_prometheus() {
  if have_image "$PROMETHEUS_IMAGE"; then say "$PROMETHEUS_IMAGE exists (cached)"; return; fi
  # wget: the healthcheck, as busybox's wget in the official image.
  rootfs "$PROMETHEUS_IMAGE" prometheus prometheus,wget \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'USER 65534' \
    --change 'WORKDIR /prometheus' \
    --change 'EXPOSE 9090' \
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
}

# The project and its dependencies as wheels, built here where PyPI's TLS is trusted.
build_wheels() {
  local t0 out=$WORK/wheels
  t0=$(date +%s.%N)
  mkdir -p "$out"
  # Fresh each time (pip's own cache makes it quick): a dependency released since the
  # last build would otherwise sit beside the old wheel, and pip refuses two versions.
  rm -f "$out"/*.whl
  "$PYTHON" -m pip wheel -q --disable-pip-version-check -w "$out" \
    "$ROOT" "setuptools>=68" wheel "docker>=7" >"$WORK/wheels.log" 2>&1 ||
    { tail -20 "$WORK/wheels.log" >&2; return 1; }
  # The project itself is installed from source in the image; its wheel would only
  # defeat the dependency layer's cache.
  rm -f "$out"/fallacies-*.whl
  say "wheels: $(ls "$out" | wc -l) in $(elapsed "$t0")s"
}

build_toxiproxy_binaries() {
  local t0 out=$WORK/toxiproxy
  t0=$(date +%s.%N)
  mkdir -p "$out"
  CGO_ENABLED=0 GOBIN=$out go install \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@v$TOXIPROXY_VERSION" >"$WORK/go.log" 2>&1 ||
    { tail -20 "$WORK/go.log" >&2; return 1; }
  say "toxiproxy $TOXIPROXY_VERSION binaries (static) in $(elapsed "$t0")s"
}

# Hash of everything the app image is built from, so a stale image is never reused.
source_hash() {
  (
    cd "$ROOT"
    find pyproject.toml README.md compose/Dockerfile services chaos -type f \
      ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*/node_modules/*' -print0 |
      sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -c1-16
}

build_app() {
  local hash t0
  hash=$(source_hash)
  if have_image "$FALLACIES_IMAGE" &&
    [[ $(image_label "$FALLACIES_IMAGE" org.fallacies.source-hash) == "$hash" ]]; then
    say "$FALLACIES_IMAGE is up to date with the source (cached)"
    return
  fi
  t0=$(date +%s.%N)
  # A small context on stdin: the source and the wheels, not the whole work tree.
  # node_modules: the console's type checker, installed by CI after the first build.
  tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' --exclude=node_modules -c \
    pyproject.toml README.md services chaos compose/Dockerfile compose/wheels/README.md \
    -C "$WORK" --transform 's,^wheels,compose/wheels,' wheels |
    docker build -q -f compose/Dockerfile \
      --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg PIP_NO_INDEX=1 \
      --label "org.fallacies.source-hash=$hash" -t "$FALLACIES_IMAGE" - \
      >"$WORK/app-build.log" 2>&1 || { tail -30 "$WORK/app-build.log" >&2; return 1; }
  say "$FALLACIES_IMAGE built in $(elapsed "$t0")s"
  # The image it replaced is now untagged: drop ours only (by label), nobody else's.
  docker image prune -f --filter label=org.fallacies.source-hash >/dev/null || true
}

build_toxiproxy() {
  if have_image "$TOXIPROXY_IMAGE"; then say "$TOXIPROXY_IMAGE exists (cached)"; return; fi
  local t0
  t0=$(date +%s.%N)
  tar -C "$ROOT/compose/toxiproxy" -c Dockerfile -C "$WORK/toxiproxy" server cli |
    docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$TOXIPROXY_IMAGE" - \
      >"$WORK/toxiproxy-build.log" 2>&1 || { tail -30 "$WORK/toxiproxy-build.log" >&2; return 1; }
  say "$TOXIPROXY_IMAGE built in $(elapsed "$t0")s"
}

build_engine() {
  if have_image "$ENGINE_IMAGE"; then say "$ENGINE_IMAGE exists (cached)"; return; fi
  local t0
  t0=$(date +%s.%N)
  tar -C "$ROOT/compose/engine" -c Dockerfile |
    docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$ENGINE_IMAGE" - \
      >"$WORK/engine-build.log" 2>&1 || { tail -30 "$WORK/engine-build.log" >&2; return 1; }
  say "$ENGINE_IMAGE built in $(elapsed "$t0")s"
}

command -v docker >/dev/null || { echo "build-images: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build-images: the Docker engine does not answer" >&2; exit 1; }

# Phase 1, in parallel: the slow downloads and the host-side builds.
pids=()
build_base & pids+=($!)
build_prometheus & pids+=($!)
if ! have_image "$FALLACIES_IMAGE" ||
  [[ $(image_label "$FALLACIES_IMAGE" org.fallacies.source-hash) != "$(source_hash)" ]]; then
  build_wheels & pids+=($!)
fi
if ! have_image "$TOXIPROXY_IMAGE"; then
  build_toxiproxy_binaries & pids+=($!)
fi
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[[ $failed == 0 ]] || { say "a step failed (logs in $WORK)"; exit 1; }

# Phase 2: images FROM the base.
build_app &
app=$!
build_engine &
engine=$!
build_toxiproxy || failed=1
wait "$app" || failed=1
wait "$engine" || failed=1
[[ $failed == 0 ]] || { say "a step failed (logs in $WORK)"; exit 1; }

# Phase 3: the Swarm stack's Toxiproxy, FROM both (a copy of two files, seconds).
build_gated() {
  local app_id t0
  app_id=$(docker image inspect -f '{{.Id}}' "$FALLACIES_IMAGE")
  if have_image "$TOXIPROXY_GATED_IMAGE" &&
    [[ $(image_label "$TOXIPROXY_GATED_IMAGE" org.fallacies.app-image) == "$app_id" ]]; then
    say "$TOXIPROXY_GATED_IMAGE is up to date (cached)"
    return
  fi
  t0=$(date +%s.%N)
  tar -C "$ROOT/compose/toxiproxy" -c Dockerfile.gated |
    docker build -q -f Dockerfile.gated --build-arg "TOXIPROXY_IMAGE=$TOXIPROXY_IMAGE" \
      --build-arg "FALLACIES_IMAGE=$FALLACIES_IMAGE" --label "org.fallacies.app-image=$app_id" \
      -t "$TOXIPROXY_GATED_IMAGE" - >"$WORK/gated-build.log" 2>&1 ||
    { tail -30 "$WORK/gated-build.log" >&2; return 1; }
  say "$TOXIPROXY_GATED_IMAGE built in $(elapsed "$t0")s"
}
build_gated || { say "a step failed (logs in $WORK)"; exit 1; }

say "done in $(elapsed "$started")s"
env_file=$ROOT/compose/offline.env
cat >"$env_file" <<EOF
BASE_IMAGE=$BASE_IMAGE
FALLACIES_IMAGE=$FALLACIES_IMAGE
TOXIPROXY_IMAGE=$TOXIPROXY_IMAGE
PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE
TOXIPROXY_GATED_IMAGE=$TOXIPROXY_GATED_IMAGE
ENGINE_IMAGE=$ENGINE_IMAGE
EOF
sed 's/^/export /' "$env_file"
