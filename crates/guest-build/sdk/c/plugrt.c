// plugrt's C guest library (see plugrt.h): the describe document and the `call` entry point
// over the functions a guest declares with PLUGRT_FUNCTIONS.
#include "plugrt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// nanoarrow's decoder reports the end of a stream as ENODATA, which some libcs (wasi-libc
// among them) lack; it then uses this value.
#ifndef ENODATA
#define ENODATA 120
#endif

#ifndef PLUGRT_NAME
#error "PLUGRT_NAME is not defined: build the guest with `plugrt build`, which defines it from plugrt.toml"
#endif
#ifndef PLUGRT_VERSION
#error "PLUGRT_VERSION is not defined: build the guest with `plugrt build`, which defines it from plugrt.toml"
#endif

int plugrt_fail(struct plugrt_error* error, enum plugrt_error_kind kind, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error->message, sizeof(error->message), format, args);
  va_end(args);
  error->kind = kind;
  error->retryable = 0;
  return 1;
}

void* plugrt_grow(struct ArrowBuffer* buffer, int64_t bytes) {
  if (ArrowBufferReserve(buffer, bytes) != NANOARROW_OK) return NULL;
  void* end = buffer->data + buffer->size_bytes;
  buffer->size_bytes += bytes;
  return end;
}

// The bitmap is only materialised once a null appears, as nanoarrow's own appenders do.
int plugrt_finish_rows(struct ArrowArrayView** args, int n_args, int64_t n, struct ArrowArray* out) {
  int has_nulls = 0;
  for (int a = 0; a < n_args; a++) has_nulls |= args[a]->null_count != 0;
  struct ArrowBitmap* bitmap = ArrowArrayValidityBitmap(out);
  if (!has_nulls) {
    if (bitmap->buffer.data != NULL) NANOARROW_RETURN_NOT_OK(ArrowBitmapAppend(bitmap, 1, n));
    out->length += n;
    return NANOARROW_OK;
  }
  if (bitmap->buffer.data == NULL) {
    NANOARROW_RETURN_NOT_OK(ArrowBitmapReserve(bitmap, out->length + n));
    ArrowBitmapAppendUnsafe(bitmap, 1, out->length);
  } else {
    NANOARROW_RETURN_NOT_OK(ArrowBitmapReserve(bitmap, n));
  }
  int aligned = bitmap->size_bits % 8 == 0;
  for (int a = 0; a < n_args; a++) aligned &= args[a]->offset % 8 == 0;
  if (aligned) {
    // Whole bytes: the AND of the arguments' bitmaps.
    uint8_t* dst = bitmap->buffer.data + bitmap->size_bits / 8;
    for (int64_t b = 0; b < (n + 7) / 8; b++) {
      uint8_t bits = 0xFF;
      for (int a = 0; a < n_args; a++) {
        const uint8_t* validity = args[a]->buffer_views[0].data.as_uint8;
        if (validity != NULL) bits &= validity[args[a]->offset / 8 + b];
      }
      dst[b] = bits;
    }
    out->null_count += n - ArrowBitCountSet(dst, 0, n);
    bitmap->size_bits += n;
    bitmap->buffer.size_bytes = (bitmap->size_bits + 7) / 8;
  } else {
    for (int64_t i = 0; i < n; i++) {
      int valid = 1;
      for (int a = 0; a < n_args; a++) valid &= !ArrowArrayViewIsNull(args[a], i);
      ArrowBitmapAppendUnsafe(bitmap, (uint8_t)valid, 1);
      out->null_count += !valid;
    }
  }
  out->length += n;
  return NANOARROW_OK;
}

int plugrt_next_message(struct ArrowIpcDecoder* decoder, const uint8_t* in, int64_t len, int64_t* pos,
                        struct ArrowBufferView* body, struct ArrowError* error) {
  if (*pos == len) return ENODATA;  // a stream may end without its end-of-stream marker
  struct ArrowBufferView view;
  view.data.as_uint8 = in + *pos;
  view.size_bytes = len - *pos;
  NANOARROW_RETURN_NOT_OK(ArrowIpcDecoderVerifyHeader(decoder, view, error));
  int64_t body_start = *pos + decoder->header_size_bytes;
  if (decoder->body_size_bytes < 0 || decoder->body_size_bytes > len - body_start) {
    ArrowErrorSet(error, "a message body runs past the end of the input");
    return EINVAL;
  }
  NANOARROW_RETURN_NOT_OK(ArrowIpcDecoderDecodeHeader(decoder, view, error));
  body->data.as_uint8 = in + body_start;
  body->size_bytes = decoder->body_size_bytes;
  *pos = body_start + decoder->body_size_bytes;
  return NANOARROW_OK;
}

// Writes `array` (a finished output batch, released here) as an IPC stream into `stream`:
// schema, one batch, end-of-stream marker. Each buffer is sized before it is written, and the
// batch's own buffers are freed before the stream is allocated, so the stream can reuse their
// pages: a fresh instance pays a page fault for every page it touches first.
static int write_output(struct ArrowSchema* schema, struct ArrowArray* array, struct ArrowBuffer* stream,
                        struct ArrowError* error) {
  struct ArrowIpcEncoder encoder = {0};
  struct ArrowArrayView view = {0};
  struct ArrowBuffer header, body;
  ArrowBufferInit(&header);
  ArrowBufferInit(&body);
  int64_t body_bytes = 0;
  for (int64_t c = 0; c < array->n_children; c++) {
    struct ArrowArray* col = array->children[c];
    for (int64_t i = 0; i < col->n_buffers; i++) body_bytes += ArrowArrayBuffer(col, i)->size_bytes + 64;
  }
  int32_t eos[2] = {-1, 0};
  int rc = ArrowIpcEncoderInit(&encoder);
  if (rc == NANOARROW_OK) rc = ArrowArrayViewInitFromSchema(&view, schema, error);
  if (rc == NANOARROW_OK) rc = ArrowArrayViewSetArray(&view, array, error);
  if (rc == NANOARROW_OK) rc = ArrowBufferReserve(&body, body_bytes);
  if (rc == NANOARROW_OK) rc = ArrowIpcEncoderEncodeSimpleRecordBatch(&encoder, &view, &body, error);
  if (rc == NANOARROW_OK) rc = ArrowIpcEncoderFinalizeBuffer(&encoder, 1, &header);
  ArrowArrayViewReset(&view);
  array->release(array);
  if (rc == NANOARROW_OK) rc = ArrowIpcEncoderEncodeSchema(&encoder, schema, error);
  if (rc == NANOARROW_OK) rc = ArrowBufferReserve(stream, 4096 + header.size_bytes + body.size_bytes);
  if (rc == NANOARROW_OK) rc = ArrowIpcEncoderFinalizeBuffer(&encoder, 1, stream);
  if (rc == NANOARROW_OK) {
    rc = ArrowBufferReserve(stream, header.size_bytes + body.size_bytes + (int64_t)sizeof(eos));
  }
  if (rc == NANOARROW_OK) {
    ArrowBufferAppendUnsafe(stream, header.data, header.size_bytes);
    ArrowBufferAppendUnsafe(stream, body.data, body.size_bytes);
    ArrowBufferAppendUnsafe(stream, eos, (int64_t)sizeof(eos));
  }
  ArrowBufferReset(&header);
  ArrowBufferReset(&body);
  if (encoder.private_data) ArrowIpcEncoderReset(&encoder);
  return rc;
}

int plugrt_hand_over(const char* fn, struct ArrowSchema* schema, struct ArrowArray* array, uint8_t** output,
                     size_t* output_len, struct plugrt_error* error) {
  struct ArrowError arrow_error = {0};
  struct ArrowBuffer stream;
  ArrowBufferInit(&stream);
  if (ArrowArrayFinishBuildingDefault(array, &arrow_error) != NANOARROW_OK) {
    array->release(array);
    return plugrt_fail(error, PLUGRT_INTERNAL, "%s: finishing the output: %s", fn, arrow_error.message);
  }
  if (write_output(schema, array, &stream, &arrow_error) != NANOARROW_OK) {
    ArrowBufferReset(&stream);
    return plugrt_fail(error, PLUGRT_INTERNAL, "%s: writing the output: %s", fn, arrow_error.message);
  }
  *output = stream.data;
  *output_len = (size_t)stream.size_bytes;
  return 0;
}

// ---- The describe document ----------------------------------------------------------------

// The contract's name of a nanoarrow type (Arrow's), or NULL for a type this library does not
// carry.
static const char* type_name(enum ArrowType type) {
  switch (type) {
    case NANOARROW_TYPE_BOOL: return "Boolean";
    case NANOARROW_TYPE_INT8: return "Int8";
    case NANOARROW_TYPE_INT16: return "Int16";
    case NANOARROW_TYPE_INT32: return "Int32";
    case NANOARROW_TYPE_INT64: return "Int64";
    case NANOARROW_TYPE_UINT8: return "UInt8";
    case NANOARROW_TYPE_UINT16: return "UInt16";
    case NANOARROW_TYPE_UINT32: return "UInt32";
    case NANOARROW_TYPE_UINT64: return "UInt64";
    case NANOARROW_TYPE_HALF_FLOAT: return "Float16";
    case NANOARROW_TYPE_FLOAT: return "Float32";
    case NANOARROW_TYPE_DOUBLE: return "Float64";
    case NANOARROW_TYPE_STRING: return "Utf8";
    case NANOARROW_TYPE_LARGE_STRING: return "LargeUtf8";
    case NANOARROW_TYPE_BINARY: return "Binary";
    case NANOARROW_TYPE_LARGE_BINARY: return "LargeBinary";
    case NANOARROW_TYPE_DATE32: return "Date32";
    case NANOARROW_TYPE_DATE64: return "Date64";
    default: return NULL;
  }
}

__attribute__((weak)) const char* plugrt_describe_aggregates(void) { return ""; }

// Appends printf-formatted text to `doc`; returns nonzero when memory runs out.
static int put(struct ArrowBuffer* doc, const char* format, ...) __attribute__((format(printf, 2, 3)));
static int put(struct ArrowBuffer* doc, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsnprintf(NULL, 0, format, args);
  va_end(args);
  if (n < 0 || ArrowBufferReserve(doc, n + 1) != NANOARROW_OK) return 1;
  va_start(args, format);
  vsnprintf((char*)doc->data + doc->size_bytes, (size_t)n + 1, format, args);
  va_end(args);
  doc->size_bytes += n;
  return 0;
}

// A declaration the host would misread or that this library cannot serve is written into
// the document as an unknown type, so that loading fails with the function's name in the
// message rather than calls failing later.
static int describe_function(struct ArrowBuffer* doc, const struct plugrt_function* f) {
  const char* returns = type_name(f->returns);
  int rc = put(doc, "{\"name\":\"%s\",\"args\":[", f->name);
  if (f->n_args < 1 || f->n_args > PLUGRT_MAX_ARGS) {
    return rc | put(doc, "\"declared with %d arguments (1 to %d are allowed)\"", f->n_args, PLUGRT_MAX_ARGS);
  }
  for (int a = 0; a < f->n_args; a++) {
    const char* arg = type_name(f->args[a]);
    rc |= arg ? put(doc, "%s\"%s\"", a ? "," : "", arg)
              : put(doc, "%s\"nanoarrow type %d (not supported by plugrt.h)\"", a ? "," : "", (int)f->args[a]);
  }
  rc |= returns ? put(doc, "],\"returns\":\"%s\"", returns)
                : put(doc, "],\"returns\":\"nanoarrow type %d (not supported by plugrt.h)\"", (int)f->returns);
  return rc | put(doc, ",\"volatility\":\"%s\"}", f->volatility ? f->volatility : "immutable");
}

// Appends `text` as a JSON string: quoted, with quotes, backslashes and control characters
// escaped.
static int put_string(struct ArrowBuffer* doc, const char* text) {
  int rc = put(doc, "\"");
  for (const unsigned char* c = (const unsigned char*)text; *c; c++) {
    if (*c == '"' || *c == '\\') {
      rc |= put(doc, "\\%c", *c);
    } else if (*c < 0x20) {
      rc |= put(doc, "\\u%04x", *c);
    } else {
      rc |= put(doc, "%c", *c);
    }
  }
  return rc | put(doc, "\"");
}

const char* udf_describe(void) {
  static struct ArrowBuffer doc;
  if (doc.data != NULL) return (const char*)doc.data;
  ArrowBufferInit(&doc);
  int rc = put(&doc, "{\"contract\":\"plugrt:udf@0.2.0\",\"name\":") | put_string(&doc, PLUGRT_NAME) |
           put(&doc, ",\"version\":") | put_string(&doc, PLUGRT_VERSION) | put(&doc, ",\"functions\":[");
  for (const struct plugrt_function* f = plugrt_functions; f->name != NULL; f++) {
    rc |= put(&doc, "%s", f == plugrt_functions ? "" : ",") | describe_function(&doc, f);
  }
  rc |= put(&doc, "],\"aggregates\":[%s],\"capabilities\":[]}", plugrt_describe_aggregates());
  if (rc) return "out of memory while writing the describe document";
  return (const char*)doc.data;
}

// ---- Calls ----------------------------------------------------------------------------------

static const struct plugrt_function* find(const char* name, size_t len) {
  for (const struct plugrt_function* f = plugrt_functions; f->name != NULL; f++) {
    if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) return f;
  }
  return NULL;
}

// Checks the input schema against the function's declaration.
static int check_args(const struct plugrt_function* f, struct ArrowSchema* schema, struct plugrt_error* error) {
  if (schema->n_children != f->n_args) {
    return plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "%s takes %d argument(s), got %lld", f->name, f->n_args,
                       (long long)schema->n_children);
  }
  for (int i = 0; i < f->n_args; i++) {
    struct ArrowSchemaView view;
    struct ArrowError arrow_error;
    if (ArrowSchemaViewInit(&view, schema->children[i], &arrow_error) != NANOARROW_OK) {
      return plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "%s: arg%d: %s", f->name, i, arrow_error.message);
    }
    if (view.type != f->args[i]) {
      const char *want = type_name(f->args[i]), *got = type_name(view.type);
      return plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "%s: arg%d must be %s, got %s", f->name, i,
                         want ? want : ArrowTypeString(f->args[i]), got ? got : ArrowTypeString(view.type));
    }
  }
  return 0;
}

// The output schema: a struct with one nullable column `result`.
static int output_schema(const struct plugrt_function* f, struct ArrowSchema* out) {
  ArrowSchemaInit(out);
  if (ArrowSchemaSetTypeStruct(out, 1) != NANOARROW_OK) return 1;
  if (ArrowSchemaSetType(out->children[0], f->returns) != NANOARROW_OK) return 1;
  return ArrowSchemaSetName(out->children[0], "result") != NANOARROW_OK;
}

int udf_call(const char* name, size_t name_len, uint8_t* input, size_t input_len, uint8_t** output,
             size_t* output_len, struct plugrt_error* error) {
  struct ArrowError arrow_error = {0};
  struct ArrowIpcDecoder decoder = {0};
  struct ArrowSchema in_schema = {0}, out_schema = {0};
  struct ArrowArray out_array = {0};
  struct ArrowBufferView body;
  int64_t pos = 0, len = (int64_t)input_len;
  int status = 1, rc;

  const struct plugrt_function* f = find(name, name_len);
  if (f == NULL) {
    plugrt_fail(error, PLUGRT_UNSUPPORTED, "no function named %.*s", (int)name_len, name);
    goto done;
  }

  // The input is decoded in place: argument arrays are views into `input`.
  if (ArrowIpcDecoderInit(&decoder) != NANOARROW_OK) {
    plugrt_fail(error, PLUGRT_RESOURCE_EXHAUSTED, "%s: out of memory", f->name);
    goto done;
  }
  if (plugrt_next_message(&decoder, input, len, &pos, &body, &arrow_error) != NANOARROW_OK ||
      decoder.message_type != NANOARROW_IPC_MESSAGE_TYPE_SCHEMA ||
      ArrowIpcDecoderDecodeSchema(&decoder, &in_schema, &arrow_error) != NANOARROW_OK) {
    plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "%s: input has no readable schema: %s", f->name,
                arrow_error.message[0] ? arrow_error.message : "the first message is not a schema");
    goto done;
  }
  if (decoder.feature_flags & NANOARROW_IPC_FEATURE_COMPRESSED_BODY) {
    plugrt_fail(error, PLUGRT_UNSUPPORTED, "%s: compressed input is not supported", f->name);
    goto done;
  }
  if (check_args(f, &in_schema, error)) goto done;
  if (ArrowIpcDecoderSetEndianness(&decoder, decoder.endianness) != NANOARROW_OK ||
      ArrowIpcDecoderSetSchema(&decoder, &in_schema, &arrow_error) != NANOARROW_OK ||
      output_schema(f, &out_schema) || ArrowArrayInitFromSchema(&out_array, &out_schema, &arrow_error) ||
      ArrowArrayStartAppending(&out_array)) {
    plugrt_fail(error, PLUGRT_INTERNAL, "%s: setting up: %s", f->name, arrow_error.message);
    goto done;
  }

  // Every batch of the input, appended to one output batch.
  while ((rc = plugrt_next_message(&decoder, input, len, &pos, &body, &arrow_error)) != ENODATA) {
    struct ArrowArrayView* batch;
    if (rc != NANOARROW_OK || decoder.message_type != NANOARROW_IPC_MESSAGE_TYPE_RECORD_BATCH ||
        ArrowIpcDecoderDecodeArrayView(&decoder, body, -1, &batch, &arrow_error) != NANOARROW_OK ||
        ArrowArrayViewValidate(batch, NANOARROW_VALIDATION_LEVEL_FULL, &arrow_error) != NANOARROW_OK) {
      plugrt_fail(error, PLUGRT_INVALID_ARGUMENT, "%s: bad input batch: %s", f->name,
                  arrow_error.message[0] ? arrow_error.message : "expected a record batch");
      goto done;
    }
    struct ArrowArray* column = out_array.children[0];
    int64_t before = column->length;
    rc = f->run(batch->children, batch->length, column, error);
    if (rc > 1) rc = plugrt_fail(error, PLUGRT_RESOURCE_EXHAUSTED, "%s: out of memory (nanoarrow error %d)", f->name, rc);
    if (rc) goto done;
    if (column->length - before != batch->length) {
      plugrt_fail(error, PLUGRT_INTERNAL, "%s appended %lld rows for a batch of %lld", f->name,
                  (long long)(column->length - before), (long long)batch->length);
      goto done;
    }
    out_array.length += batch->length;
  }

  free(input);  // the arguments are consumed; their pages go to the output
  input = NULL;
  status = plugrt_hand_over(f->name, &out_schema, &out_array, output, output_len, error);

done:
  if (out_array.release) out_array.release(&out_array);
  if (out_schema.release) out_schema.release(&out_schema);
  if (in_schema.release) in_schema.release(&in_schema);
  if (decoder.private_data) ArrowIpcDecoderReset(&decoder);
  free(input);
  return status;
}

__attribute__((weak)) int udf_aggregate(const char* name, size_t name_len, int op, const uint8_t* states,
                                        size_t states_len, const uint8_t* rows, size_t rows_len, uint8_t** output,
                                        size_t* output_len, struct plugrt_error* error) {
  (void)op, (void)states, (void)states_len, (void)rows, (void)rows_len, (void)output, (void)output_len;
  return plugrt_fail(error, PLUGRT_UNSUPPORTED, "no aggregate named %.*s", (int)name_len, name);
}
