// plugrt's JavaScript guest library: a plugin is an object of functions over apache-arrow
// vectors, and this module turns it into the contract's exports (describe, call, aggregate).
//
//   export default {
//     functions: {
//       add_one: {
//         args: ["Int64"],
//         returns: "Int64",
//         // One apache-arrow Vector per argument (Int64 values are BigInts, nulls are null);
//         // returns a Vector, or an array of values (null for a null), one per row.
//         run([x]) { return Array.from(x, (v) => (v === null ? null : v + 1n)); },
//       },
//     },
//   };
//
// `plugrt build` wraps the project's module with this one and names the plugin after
// plugrt.toml. Before `run`, the library looks the function up, reads the IPC input and checks
// the columns' count and types against `args`; afterwards it checks the result's rows and type
// and writes the IPC output. A thrown `fail(kind, message)` becomes that call-error; any
// other exception an `internal` one with its message.
//
// What it does not do: aggregate functions (a guest that has them exports `describe`, `call`
// and `aggregate` itself, as plugrt's own JS fixture does), nested types. Row-by-row code
// (as above) costs QuickJS microseconds a row; for speed, work on `vector.data[i].values`
// (typed arrays) as the fixture does.
import {
  Binary, Bool, DateDay, Float16, Float32, Float64, Int8, Int16, Int32, Int64, LargeUtf8,
  Table, Uint8, Uint16, Uint32, Uint64, Utf8, Vector, tableFromIPC, tableToIPC, vectorFromArray,
} from "apache-arrow";

/** The contract's type names (Arrow's), and apache-arrow's types for them. */
const TYPES = {
  Boolean: () => new Bool(),
  Int8: () => new Int8(),
  Int16: () => new Int16(),
  Int32: () => new Int32(),
  Int64: () => new Int64(),
  UInt8: () => new Uint8(),
  UInt16: () => new Uint16(),
  UInt32: () => new Uint32(),
  UInt64: () => new Uint64(),
  Float16: () => new Float16(),
  Float32: () => new Float32(),
  Float64: () => new Float64(),
  Utf8: () => new Utf8(),
  LargeUtf8: () => new LargeUtf8(),
  Binary: () => new Binary(),
  Date32: () => new DateDay(),
};

/** The kinds of call-error, as the contract names them. */
export const KINDS = ["invalid-argument", "unsupported", "resource-exhausted", "internal"];

/** Fails the call with a call-error of `kind` (one of KINDS); the host adds the plugin's and function's names. */
export function fail(kind, message, retryable = false) {
  throw { kind: KINDS.includes(kind) ? kind : "internal", message: String(message), retryable: Boolean(retryable) };
}

function isCallError(e) {
  return e !== null && typeof e === "object" && typeof e.kind === "string" && typeof e.message === "string" && !(e instanceof Error);
}

/** Own properties only: `call("toString")` must not find Object's. */
function lookup(table, name) {
  return Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
}

/** The type `name` declares, or null if this library does not know it. */
function typeOf(name) {
  const make = lookup(TYPES, name);
  return make ? make() : null;
}

/** The contract's exports of `plugin`, named `name` at `version`. */
export function guest(plugin, name, version) {
  const functions = (plugin && plugin.functions) || {};
  // Undeclarable signatures are written as they are: loading then fails naming the function.
  const declared = Object.entries(functions).map(([fn, f]) => ({
    name: fn,
    args: Array.isArray(f.args) ? f.args.map(String) : [`args of ${fn} must be an array of type names`],
    returns: String(f.returns),
    volatility: f.volatility || "immutable",
  }));
  const document = JSON.stringify({
    contract: "plugrt:udf@0.2.0", name, version, functions: declared, aggregates: [], capabilities: [],
  });

  function call(fn, batch) {
    const f = lookup(functions, fn);
    if (!f || typeof f.run !== "function") fail("unsupported", `no function named ${fn}`);
    let table;
    try {
      table = tableFromIPC(batch);
    } catch (e) {
      fail("invalid-argument", `${fn}: cannot read the input stream: ${e}`);
    }
    if (table.numCols !== f.args.length) fail("invalid-argument", `${fn} takes ${f.args.length} argument(s), got ${table.numCols}`);
    const args = f.args.map((type, i) => {
      const column = table.getChildAt(i);
      const want = typeOf(type);
      if (want === null) fail("unsupported", `${fn}: plugrt.js cannot read arguments of type ${type}`);
      if (String(column.type) !== String(want)) fail("invalid-argument", `${fn}: arg${i} must be ${type}, got ${column.type}`);
      return column;
    });
    const rows = table.numRows;
    let out;
    try {
      out = f.run(args, rows);
    } catch (e) {
      if (isCallError(e)) throw e;
      // QuickJS's stack has no message line; the stack's lines are the bundle's.
      fail("internal", `${fn} threw ${e}${e && e.stack ? `\n${e.stack}` : ""}`);
    }
    const want = typeOf(f.returns);
    if (want === null) fail("unsupported", `${fn}: plugrt.js cannot write results of type ${f.returns}`);
    let vector;
    try {
      vector = out instanceof Vector ? out : vectorFromArray(Array.from(out ?? []), want);
    } catch (e) {
      fail("internal", `${fn}: its result cannot be made a ${f.returns} vector: ${e}`);
    }
    if (vector.length !== rows) fail("internal", `${fn} returned ${vector.length} rows for ${rows}`);
    if (String(vector.type) !== String(want)) fail("internal", `${fn} returned ${vector.type}, declared ${f.returns}`);
    return tableToIPC(new Table({ result: vector }), "stream");
  }

  return {
    describe: () => document,
    call,
    aggregate(fn) {
      fail("unsupported", `no aggregate named ${fn}`);
    },
  };
}
