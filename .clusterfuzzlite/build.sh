#!/bin/bash -eu
# ClusterFuzzLite uses the same build as OSS-Fuzz: both targets, optimised.
exec "$SRC/wasi-conform/fuzz/oss-fuzz/build.sh"
