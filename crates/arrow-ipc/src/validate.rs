//! The distrustful pass over a stream, run before arrow-rs sees a byte of it.
//!
//! It walks the framing (continuation markers, length prefixes, metadata, bodies) and each
//! message's verified flatbuffer, and refuses anything that arrow-rs 59 would mishandle:
//! lengths beyond the bytes present (arrow slices with an assert, i.e. panics), negative
//! counts (which become huge after `as usize`), type tables that are missing or carry
//! out-of-range widths and units (arrow's schema conversion `panic!`s on those), buffer and
//! node counts that do not match the schema, and anything outside the supported type set.
//! It also enforces [`Limits`]. It allocates nothing proportional to any claimed length.

use arrow_ipc::{Endianness, Field, MessageHeader, MetadataVersion, Precision, Type};

use crate::{IpcError, Limits};

const CONTINUATION: u32 = 0xFFFF_FFFF;

/// What the pass learnt: enough to report the stream's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) batches: usize,
    pub(crate) rows: usize,
}

/// What a schema implies for every record batch: one entry per field node, in the
/// depth-first order of nodes, with the number of buffers that field owns. The first buffer
/// of every type but `Null` is its validity bitmap.
#[derive(Default)]
struct Layout {
    fields: Vec<FieldLayout>,
    buffers: usize,
}

#[derive(Clone, Copy)]
struct FieldLayout {
    buffers: usize,
    /// Width in bytes of the offsets in the second buffer (variable-size types).
    offset_width: Option<i64>,
}

/// Checks a whole stream. `Ok` means arrow-rs can decode it without panicking or allocating
/// more than the input's size (its own validation still checks the data itself).
pub(crate) fn check_stream(bytes: &[u8], limits: &Limits) -> Result<Shape, IpcError> {
    if bytes.len() > limits.max_bytes {
        return Err(IpcError::limit("bytes", limits.max_bytes, bytes.len() as u64));
    }
    let mut pos = 0usize;
    let mut layout: Option<Layout> = None;
    let mut shape = Shape { batches: 0, rows: 0 };
    loop {
        let start = pos;
        let mut word = read_u32(bytes, pos, "message length prefix")?;
        pos += 4;
        if word == CONTINUATION {
            word = read_u32(bytes, pos, "message length prefix")?;
            pos += 4;
        }
        if word == 0 {
            // End-of-stream marker.
            if layout.is_none() {
                return Err(IpcError::malformed(start, "stream ends before its schema"));
            }
            if pos != bytes.len() {
                let extra = bytes.len() - pos;
                return Err(IpcError::malformed(pos, format!("{extra} bytes after the end-of-stream marker")));
            }
            return Ok(shape);
        }
        let meta_len = i32::try_from(word)
            .map_err(|_| IpcError::malformed(start, format!("negative metadata length {}", word as i32)))?
            as usize;
        let meta = take(bytes, pos, meta_len, "message metadata")?;
        let message = arrow_ipc::root_as_message(meta)
            .map_err(|e| IpcError::BadFlatbuffer { offset: pos, message: e.to_string() })?;
        pos += meta_len;
        let version = message.version();
        if version != MetadataVersion::V4 && version != MetadataVersion::V5 {
            return Err(IpcError::unsupported(format!("metadata version {version:?} (V4 or V5 required)")));
        }
        let body_len = usize::try_from(message.bodyLength())
            .map_err(|_| IpcError::malformed(start, format!("negative body length {}", message.bodyLength())))?;
        take(bytes, pos, body_len, "message body")?;
        pos += body_len;

        match message.header_type() {
            MessageHeader::Schema => {
                if layout.is_some() {
                    return Err(IpcError::malformed(start, "a second schema message"));
                }
                let schema =
                    message.header_as_schema().ok_or_else(|| IpcError::malformed(start, "schema header missing"))?;
                if schema.endianness() != Endianness::Little {
                    return Err(IpcError::unsupported("big-endian data"));
                }
                let fields = schema.fields().ok_or_else(|| IpcError::malformed(start, "schema without fields"))?;
                if fields.len() > limits.max_columns {
                    return Err(IpcError::limit("columns", limits.max_columns, fields.len() as u64));
                }
                let mut counted = Layout::default();
                for field in fields {
                    check_field(field, 1, limits, &mut counted, start)?;
                }
                layout = Some(counted);
            }
            MessageHeader::RecordBatch => {
                let layout =
                    layout.as_ref().ok_or_else(|| IpcError::malformed(start, "record batch before the schema"))?;
                let batch = message
                    .header_as_record_batch()
                    .ok_or_else(|| IpcError::malformed(start, "record batch header missing"))?;
                let rows = check_batch(&batch, body_len, layout, limits, start)?;
                shape.batches += 1;
                if shape.batches > limits.max_batches {
                    return Err(IpcError::limit("batches", limits.max_batches, shape.batches as u64));
                }
                shape.rows = shape.rows.saturating_add(rows);
                if shape.rows > limits.max_rows {
                    return Err(IpcError::limit("rows", limits.max_rows, shape.rows as u64));
                }
            }
            MessageHeader::DictionaryBatch => return Err(IpcError::unsupported("dictionary batches")),
            other => {
                let name = other.variant_name().unwrap_or("unknown");
                return Err(IpcError::unsupported(format!("message type {name}")));
            }
        }
    }
}

fn read_u32(bytes: &[u8], pos: usize, what: &'static str) -> Result<u32, IpcError> {
    let word = take(bytes, pos, 4, what)?;
    Ok(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// `len` bytes at `pos`, or a truncation error.
fn take<'a>(bytes: &'a [u8], pos: usize, len: usize, what: &'static str) -> Result<&'a [u8], IpcError> {
    let available = bytes.len().saturating_sub(pos);
    if len > available {
        return Err(IpcError::Truncated { what, offset: pos, needed: len as u64, available: available as u64 });
    }
    Ok(&bytes[pos..pos + len])
}

/// Checks one field (recursively) and adds the nodes and buffers it implies to `layout`.
fn check_field(
    field: Field<'_>,
    depth: usize,
    limits: &Limits,
    layout: &mut Layout,
    at: usize,
) -> Result<(), IpcError> {
    if depth > limits.max_depth {
        return Err(IpcError::limit("depth", limits.max_depth, depth as u64));
    }
    if layout.fields.len() >= limits.max_fields {
        return Err(IpcError::limit("fields", limits.max_fields, layout.fields.len() as u64 + 1));
    }
    let slot = layout.fields.len();
    layout.fields.push(FieldLayout { buffers: 0, offset_width: None });
    let name = field.name().unwrap_or("");
    if field.dictionary().is_some() {
        return Err(IpcError::unsupported(format!("dictionary-encoded field `{name}`")));
    }
    let bad = |what: String| IpcError::malformed(at, format!("field `{name}`: {what}"));
    let missing = |ty: &str| bad(format!("{ty} type without its parameters"));
    let children = field.children().map(|c| c.len()).unwrap_or(0);
    let expect_children = |n: usize| {
        if children == n { Ok(()) } else { Err(bad(format!("expected {n} child field(s), found {children}"))) }
    };
    // Buffers per type, as arrow-ipc 59's reader consumes them.
    let buffers = match field.type_type() {
        Type::Null => 0,
        Type::Bool => 2,
        Type::Int => {
            let int = field.type_as_int().ok_or_else(|| missing("Int"))?;
            if ![8, 16, 32, 64].contains(&int.bitWidth()) {
                return Err(bad(format!("Int bit width {}", int.bitWidth())));
            }
            2
        }
        Type::FloatingPoint => {
            let float = field.type_as_floating_point().ok_or_else(|| missing("FloatingPoint"))?;
            if ![Precision::HALF, Precision::SINGLE, Precision::DOUBLE].contains(&float.precision()) {
                return Err(bad(format!("floating point precision {:?}", float.precision())));
            }
            2
        }
        Type::Decimal => {
            let dec = field.type_as_decimal().ok_or_else(|| missing("Decimal"))?;
            let max_precision = match dec.bitWidth() {
                32 => 9,
                64 => 18,
                128 => 38,
                256 => 76,
                w => return Err(bad(format!("Decimal bit width {w}"))),
            };
            let (p, s) = (dec.precision(), dec.scale());
            if !(1..=max_precision).contains(&p) || s > p || s < i32::from(i8::MIN) {
                return Err(bad(format!("Decimal{} precision {p} scale {s}", dec.bitWidth())));
            }
            2
        }
        Type::Date => {
            let date = field.type_as_date().ok_or_else(|| missing("Date"))?;
            if ![arrow_ipc::DateUnit::DAY, arrow_ipc::DateUnit::MILLISECOND].contains(&date.unit()) {
                return Err(bad(format!("Date unit {:?}", date.unit())));
            }
            2
        }
        Type::Time => {
            use arrow_ipc::TimeUnit as U;
            let time = field.type_as_time().ok_or_else(|| missing("Time"))?;
            let ok = matches!(
                (time.bitWidth(), time.unit()),
                (32, U::SECOND) | (32, U::MILLISECOND) | (64, U::MICROSECOND) | (64, U::NANOSECOND)
            );
            if !ok {
                return Err(bad(format!("Time bit width {} with unit {:?}", time.bitWidth(), time.unit())));
            }
            2
        }
        Type::Timestamp => {
            let ts = field.type_as_timestamp().ok_or_else(|| missing("Timestamp"))?;
            check_time_unit(ts.unit()).map_err(|u| bad(format!("Timestamp unit {u:?}")))?;
            2
        }
        Type::Duration => {
            let d = field.type_as_duration().ok_or_else(|| missing("Duration"))?;
            check_time_unit(d.unit()).map_err(|u| bad(format!("Duration unit {u:?}")))?;
            2
        }
        Type::Interval => {
            use arrow_ipc::IntervalUnit as U;
            let i = field.type_as_interval().ok_or_else(|| missing("Interval"))?;
            if ![U::YEAR_MONTH, U::DAY_TIME, U::MONTH_DAY_NANO].contains(&i.unit()) {
                return Err(bad(format!("Interval unit {:?}", i.unit())));
            }
            2
        }
        Type::FixedSizeBinary => {
            let fsb = field.type_as_fixed_size_binary().ok_or_else(|| missing("FixedSizeBinary"))?;
            if fsb.byteWidth() < 0 {
                return Err(bad(format!("FixedSizeBinary width {}", fsb.byteWidth())));
            }
            2
        }
        Type::Binary | Type::Utf8 => {
            layout.fields[slot].offset_width = Some(4);
            3
        }
        Type::LargeBinary | Type::LargeUtf8 => {
            layout.fields[slot].offset_width = Some(8);
            3
        }
        Type::List | Type::LargeList => {
            expect_children(1)?;
            layout.fields[slot].offset_width = Some(if field.type_type() == Type::List { 4 } else { 8 });
            2
        }
        Type::FixedSizeList => {
            let fsl = field.type_as_fixed_size_list().ok_or_else(|| missing("FixedSizeList"))?;
            if fsl.listSize() < 0 {
                return Err(bad(format!("FixedSizeList size {}", fsl.listSize())));
            }
            expect_children(1)?;
            1
        }
        Type::Map => {
            field.type_as_map().ok_or_else(|| missing("Map"))?;
            expect_children(1)?;
            layout.fields[slot].offset_width = Some(4);
            let entries = field.children().map(|c| c.get(0));
            let is_pair_struct =
                entries.is_some_and(|e| e.type_type() == Type::Struct_ && e.children().is_some_and(|kv| kv.len() == 2));
            if !is_pair_struct {
                return Err(bad("Map entries must be a struct of key and value".into()));
            }
            2
        }
        Type::Struct_ => 1,
        other => {
            let ty = other.variant_name().unwrap_or("unknown");
            return Err(IpcError::unsupported(format!("type {ty} (field `{name}`)")));
        }
    };
    layout.fields[slot].buffers = buffers;
    layout.buffers += buffers;
    if let Some(children) = field.children() {
        for child in children {
            check_field(child, depth + 1, limits, layout, at)?;
        }
    }
    Ok(())
}

fn check_time_unit(unit: arrow_ipc::TimeUnit) -> Result<(), arrow_ipc::TimeUnit> {
    use arrow_ipc::TimeUnit as U;
    if [U::SECOND, U::MILLISECOND, U::MICROSECOND, U::NANOSECOND].contains(&unit) { Ok(()) } else { Err(unit) }
}

/// Checks a record batch header against its body and the schema's layout; returns its rows.
fn check_batch(
    batch: &arrow_ipc::RecordBatch<'_>,
    body_len: usize,
    layout: &Layout,
    limits: &Limits,
    at: usize,
) -> Result<usize, IpcError> {
    let rows = usize::try_from(batch.length())
        .map_err(|_| IpcError::malformed(at, format!("negative row count {}", batch.length())))?;
    if rows > limits.max_rows {
        return Err(IpcError::limit("rows", limits.max_rows, rows as u64));
    }
    if batch.compression().is_some() {
        return Err(IpcError::unsupported("compressed record batches"));
    }
    if batch.variadicBufferCounts().is_some_and(|v| !v.is_empty()) {
        return Err(IpcError::unsupported("variadic buffers (view types)"));
    }
    let nodes = batch.nodes().ok_or_else(|| IpcError::malformed(at, "record batch without field nodes"))?;
    let buffers = batch.buffers().ok_or_else(|| IpcError::malformed(at, "record batch without buffers"))?;
    if nodes.len() != layout.fields.len() || buffers.len() != layout.buffers {
        return Err(IpcError::malformed(
            at,
            format!(
                "the schema implies {} field nodes and {} buffers, the batch has {} and {}",
                layout.fields.len(),
                layout.buffers,
                nodes.len(),
                buffers.len()
            ),
        ));
    }
    for (i, buf) in buffers.iter().enumerate() {
        let (offset, len) = (buf.offset(), buf.length());
        let end = offset.checked_add(len);
        if offset < 0 || len < 0 || end.is_none_or(|end| end as u64 > body_len as u64) {
            return Err(IpcError::malformed(
                at,
                format!("buffer {i} (offset {offset}, length {len}) lies outside the {body_len}-byte body"),
            ));
        }
    }
    let max_values = limits.max_values() as i64;
    let mut first_buffer = 0;
    for (i, (node, field)) in nodes.iter().zip(&layout.fields).enumerate() {
        let (len, nulls) = (node.length(), node.null_count());
        if len < 0 || nulls < 0 || nulls > len {
            return Err(IpcError::malformed(at, format!("field node {i}: length {len}, null count {nulls}")));
        }
        if len > max_values {
            return Err(IpcError::limit("values", max_values as usize, len as u64));
        }
        // arrow-rs 59 builds the null bitmap before validating the array and asserts (panics)
        // when the bitmap is shorter than the array.
        if nulls > 0 && field.buffers > 0 {
            // In bounds: the buffer count matched the layout above.
            let validity = buffers.get(first_buffer).length();
            let needed = (len as u64).div_ceil(8);
            if (validity as u64) < needed {
                return Err(IpcError::malformed(
                    at,
                    format!("field node {i}: validity bitmap of {validity} bytes for {len} values"),
                ));
            }
        }
        // arrow-rs 59 views offsets with `typed_data`, which asserts (panics) unless the
        // buffer is a whole number of offsets. Honest writers pad to 8 bytes, a multiple.
        if let Some(width) = field.offset_width {
            let offsets = buffers.get(first_buffer + 1).length();
            if offsets % width != 0 {
                return Err(IpcError::malformed(
                    at,
                    format!("field node {i}: offsets buffer of {offsets} bytes is not a multiple of {width}"),
                ));
            }
        }
        first_buffer += field.buffers;
    }
    Ok(rows)
}
