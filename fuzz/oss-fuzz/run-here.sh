#!/bin/bash -eu
# Runs build.sh as OSS-Fuzz / ClusterFuzzLite would, without Docker, then runs every target
# it built from $OUT for a short while: what can be checked of the OSS-Fuzz integration on a
# machine without the base-builder image.
#
#   fuzz/oss-fuzz/run-here.sh [SECONDS_PER_TARGET]      (default 30)
#
# What the image would give and this gives instead:
# - $SRC/wasi-conform: a clean clone of this repository's HEAD (in a temporary directory);
# - $OUT: a temporary directory (printed);
# - the base-builder-rust `cargo` wrapper, which adds the sanitizer of $SANITIZER to
#   `cargo fuzz build`: a shim on PATH that does the same with the nightly toolchain
#   ($SANITIZER defaults to `none`: an ASan build of Wasmtime and Wasmer takes an hour here);
# - the build cache: CARGO_TARGET_DIR (default $HOME/.cache/wasi-conform/oss-fuzz-target).
# Not checked here: the Dockerfile itself and the upload to OSS-Fuzz.
seconds="${1:-30}"
repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SRC="$work/src" OUT="$work/out" SANITIZER="${SANITIZER:-none}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasi-conform/oss-fuzz-target}"
mkdir -p "$SRC" "$OUT" "$work/bin"
git clone -q "$repo" "$SRC/wasi-conform"
cp "$repo/fuzz/oss-fuzz/build.sh" "$SRC/build.sh"
real_cargo="$(command -v cargo)"
cat > "$work/bin/cargo" <<SHIM
#!/bin/bash -eu
if [ "\${1:-}" = fuzz ] && [ "\${2:-}" = build ]; then
  shift 2
  exec "$real_cargo" +nightly fuzz build -s "\$SANITIZER" "\$@"
fi
exec "$real_cargo" "\$@"
SHIM
chmod +x "$work/bin/cargo"
echo "build.sh: SRC=$SRC OUT=$OUT SANITIZER=$SANITIZER CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
started=$(date +%s)
(cd "$SRC" && PATH="$work/bin:$PATH" bash -eu build.sh)
echo "build.sh finished in $(( $(date +%s) - started )) s; \$OUT holds:"
ls -l "$OUT"
for target in differential smith loader; do
  extra=()
  [ "$target" = loader ] && extra=(-dict="$OUT/loader.dict")
  mkdir -p "$work/corpus/$target"
  [ "$target" = loader ] && (cd "$work/corpus/$target" && unzip -q "$OUT/loader_seed_corpus.zip")
  echo "== $target, ${seconds} s"
  "$OUT/$target" "${extra[@]}" -max_total_time="$seconds" -print_final_stats=1 "$work/corpus/$target" 2>&1 |
    grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|==|SUMMARY|Done)" || true
done
