// The functions of the {{name}} plugin. Each one gets its arguments as nanoarrow array views
// (one batch: `rows` rows) and appends as many rows to `out`, the result column.
// plugrt.h (written into build/scratch/c/ by `plugrt build`) does the rest: the describe
// document, Arrow IPC in and out, checking argument types, and the glue of both flavours.
#include <stdint.h>

#include "plugrt.h"

// add_one(Int64) -> Int64: x + 1; null stays null; overflow is an error.
static int add_one(struct ArrowArrayView** args, int64_t rows, struct ArrowArray* out, struct plugrt_error* error) {
  struct ArrowArrayView* x = args[0];
  for (int64_t i = 0; i < rows; i++) {
    if (ArrowArrayViewIsNull(x, i)) {
      PLUGRT_OK(ArrowArrayAppendNull(out, 1));
      continue;
    }
    int64_t value = ArrowArrayViewGetIntUnsafe(x, i);
    if (value == INT64_MAX) return plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "overflow at row %lld", (long long)i);
    PLUGRT_OK(ArrowArrayAppendInt(out, value + 1));
  }
  return 0;
}

// Every function of the plugin: PLUGRT_FUNCTION(c_function, return type, argument types...).
PLUGRT_FUNCTIONS(PLUGRT_FUNCTION(add_one, NANOARROW_TYPE_INT64, NANOARROW_TYPE_INT64));
