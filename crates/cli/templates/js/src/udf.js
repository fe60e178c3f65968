// The functions of the {{name}} plugin. Each `run` gets one apache-arrow Vector per argument
// (Int64 values are BigInts, nulls are null) and returns a Vector, or an array with one value
// per row. plugrt.js (bundled in by `plugrt build`) does the rest: the describe document,
// Arrow IPC in and out, checking argument and result types.
import { fail } from "plugrt";

const MAX_INT64 = 2n ** 63n - 1n;

export default {
  functions: {
    // add_one(Int64) -> Int64: x + 1; null stays null; overflow is an error.
    add_one: {
      args: ["Int64"],
      returns: "Int64",
      run([x]) {
        return Array.from(x, (value, row) => {
          if (value === null) return null;
          if (value === MAX_INT64) fail("invalid-argument", `overflow at row ${row}`);
          return value + 1n;
        });
      },
    },
  },
};
