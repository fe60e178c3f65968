// plugrt's C guest library: declare functions over nanoarrow arrays, and plugrt.c with the
// flavour glue turns them into a plugin (describe document, Arrow IPC in and out, call-errors).
//
//   #include "plugrt.h"
//
//   static int add_one(struct ArrowArrayView** args, int64_t rows, struct ArrowArray* out,
//                      struct plugrt_error* error) {
//     for (int64_t i = 0; i < rows; i++) {
//       if (ArrowArrayViewIsNull(args[0], i)) { PLUGRT_OK(ArrowArrayAppendNull(out, 1)); continue; }
//       PLUGRT_OK(ArrowArrayAppendInt(out, ArrowArrayViewGetIntUnsafe(args[0], i) + 1));
//     }
//     return 0;
//   }
//
//   PLUGRT_FUNCTIONS(PLUGRT_FUNCTION(add_one, NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64));
//
// The plugin's name and version come from the build (`plugrt build` defines PLUGRT_NAME and
// PLUGRT_VERSION from plugrt.toml). What this library does for a function, before it runs:
// looks it up by name, checks the input's column count and types against the declaration,
// decodes the IPC input in place (the argument views point into it, fully validated), and
// afterwards writes `out` as the IPC output. A function sees one input batch at a time and
// appends its rows to `out`; several batches end up in one output batch.
//
// What it does not do: aggregate functions (a guest that has them implements udf_aggregate
// and plugrt_describe_aggregates itself, as plugrt's own C fixture does), nested or
// dictionary-encoded argument types, compressed IPC input.
#ifndef PLUGRT_H
#define PLUGRT_H

#include <stddef.h>
#include <stdint.h>

#include "nanoarrow/nanoarrow.h"
#include "nanoarrow/nanoarrow_ipc.h"
#include "plugrt_glue.h"

// A scalar function: appends `rows` rows to `out` (the output column, in appending mode),
// computed from `args` (one view per declared argument, `rows` rows each). Returns 0, or 1
// after plugrt_fail (the call fails with that error), or a nanoarrow error code (reported as
// resource-exhausted: nanoarrow's appenders fail only when memory runs out).
typedef int (*plugrt_scalar_fn)(struct ArrowArrayView** args, int64_t rows, struct ArrowArray* out,
                                struct plugrt_error* error);

// Most arguments a function may declare.
#define PLUGRT_MAX_ARGS 8

// One declared function. Types are nanoarrow's: NANOARROW_TYPE_INT64, _DOUBLE, _STRING,
// _BOOL, _INT32, ... (fixed-width, boolean, string and binary types).
struct plugrt_function {
  const char* name;
  plugrt_scalar_fn run;
  enum ArrowType returns;
  int n_args;
  enum ArrowType args[PLUGRT_MAX_ARGS];
  // "immutable" (NULL means this), "stable" or "volatile", as SQL engines mean them.
  const char* volatility;
};

// A function named after its C function `fn`, returning `returns`, taking the arguments'
// types (at least one), immutable.
#define PLUGRT_FUNCTION(fn, returns_, ...)                                                       \
  {#fn, fn, returns_, (int)(sizeof((enum ArrowType[]){__VA_ARGS__}) / sizeof(enum ArrowType)), \
   {__VA_ARGS__}, NULL}

// The plugin's functions, once per guest: PLUGRT_FUNCTIONS(PLUGRT_FUNCTION(...), ...);
#define PLUGRT_FUNCTIONS(...) const struct plugrt_function plugrt_functions[] = {__VA_ARGS__, {0}}

// Declared by PLUGRT_FUNCTIONS, ended by an entry whose name is NULL.
extern const struct plugrt_function plugrt_functions[];

// Returns from the calling function with nanoarrow's error code if `expr` fails.
#define PLUGRT_OK(expr) NANOARROW_RETURN_NOT_OK(expr)

// Fills *error (kind, and a message formatted like printf; cut at 255 bytes) and returns 1:
// `return plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "overflow at row %lld", (long long)i);`
// The host reports the message with the plugin's and the function's names.
int plugrt_fail(struct plugrt_error* error, enum plugrt_error_kind kind, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// ---- For bulk kernels: whole buffers instead of one append per row (~70 ns a row) ----------

// Grows `buffer` by `bytes` and returns where they start (uninitialised), or NULL when memory
// runs out. For a primitive output column the values buffer is ArrowArrayBuffer(out, 1).
void* plugrt_grow(struct ArrowBuffer* buffer, int64_t bytes);

// After a kernel wrote `rows` values straight into out's buffers: appends their validity (a
// row is valid when every argument is) and counts the rows. Returns a nanoarrow error code.
int plugrt_finish_rows(struct ArrowArrayView** args, int n_args, int64_t rows, struct ArrowArray* out);

// ---- For guests that implement the entry points themselves (aggregates) ---------------------

// Reads the IPC message at *pos of `in` (`len` bytes): verifies and decodes its header with
// `decoder`, points `body` at its body (inside `in`) and moves *pos past it. Returns ENODATA
// (or nanoarrow's stand-in, 120) at the end of the stream.
int plugrt_next_message(struct ArrowIpcDecoder* decoder, const uint8_t* in, int64_t len, int64_t* pos,
                        struct ArrowBufferView* body, struct ArrowError* error);

// Finishes `array` (appended to, with schema `schema`), writes it as an IPC stream and hands
// the bytes (malloc'd) to the caller through *output / *output_len. `array` is released
// either way; `fn` names the function in an error. Returns 0, or 1 with *error filled.
int plugrt_hand_over(const char* fn, struct ArrowSchema* schema, struct ArrowArray* array, uint8_t** output,
                     size_t* output_len, struct plugrt_error* error);

// The aggregates' part of the describe document: "" (none) unless a guest defines it, as the
// JSON array's elements, e.g. "{\"name\":\"sum\",...}".
const char* plugrt_describe_aggregates(void);

#endif
