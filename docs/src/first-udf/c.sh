#!/usr/bin/env bash
# The commands of the book's chapter "Your first UDF in C". `cargo xtask test` runs this file
# in an empty folder with the plugrt binary on PATH, so the chapter cannot drift from what works.
set -euo pipefail
# ANCHOR: commands
plugrt new --lang c my_udf
cd my_udf
plugrt build
plugrt test
plugrt call build/component/my_udf.wasm add_one 41
plugrt sql --plugin build/extism/my_udf.wasm \
  "SELECT x, add_one(x) AS y FROM (VALUES (1), (2), (NULL)) AS t(x) ORDER BY x"
# ANCHOR_END: commands
