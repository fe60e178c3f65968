//! Hand-built IPC messages, for streams no honest writer produces.

use arrow_ipc::{
    Buffer as IpcBuffer, Field, FieldBuilder, FieldNode, IntBuilder, MessageBuilder, MessageHeader, MetadataVersion,
    RecordBatchBuilder, SchemaBuilder, Type,
};
use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};

pub const EOS: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// Frames metadata and body as one stream message (continuation, length, padded metadata, body).
pub fn frame(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let padded = meta.len().div_ceil(8) * 8;
    let mut out = vec![0xFF, 0xFF, 0xFF, 0xFF];
    out.extend_from_slice(&(padded as u32).to_le_bytes());
    out.extend_from_slice(meta);
    out.resize(8 + padded, 0);
    out.extend_from_slice(body);
    out
}

/// An Int field with any bit width (arrow panics on widths other than 8/16/32/64).
pub fn int_field<'a>(fbb: &mut FlatBufferBuilder<'a>, name: &str, bit_width: i32) -> WIPOffset<Field<'a>> {
    let mut int = IntBuilder::new(fbb);
    int.add_bitWidth(bit_width);
    int.add_is_signed(true);
    let int = int.finish().as_union_value();
    field(fbb, name, Type::Int, int, &[])
}

/// A nullable field of type `ty` with its type table and children.
fn field<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    name: &str,
    ty: Type,
    table: WIPOffset<UnionWIPOffset>,
    children: &[WIPOffset<Field<'a>>],
) -> WIPOffset<Field<'a>> {
    let children = (!children.is_empty()).then(|| fbb.create_vector(children));
    let name = fbb.create_string(name);
    let mut f = FieldBuilder::new(fbb);
    f.add_name(name);
    f.add_nullable(true);
    f.add_type_type(ty);
    f.add_type_(table);
    if let Some(children) = children {
        f.add_children(children);
    }
    f.finish()
}

/// A field of `ty` (whose type table has no parameters) with the given children.
pub fn typed_field<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    name: &str,
    ty: Type,
    children: &[WIPOffset<Field<'a>>],
) -> WIPOffset<Field<'a>> {
    let table = match ty {
        Type::List => arrow_ipc::ListBuilder::new(fbb).finish().as_union_value(),
        Type::LargeUtf8 => arrow_ipc::LargeUtf8Builder::new(fbb).finish().as_union_value(),
        Type::ListView => arrow_ipc::ListViewBuilder::new(fbb).finish().as_union_value(),
        Type::Utf8View => arrow_ipc::Utf8ViewBuilder::new(fbb).finish().as_union_value(),
        Type::RunEndEncoded => arrow_ipc::RunEndEncodedBuilder::new(fbb).finish().as_union_value(),
        Type::Union => {
            let mut u = arrow_ipc::UnionBuilder::new(fbb);
            u.add_mode(arrow_ipc::UnionMode::Sparse);
            u.finish().as_union_value()
        }
        other => panic!("craft: no table builder for {other:?}"),
    };
    field(fbb, name, ty, table, children)
}

/// A Decimal field with any precision, scale and width.
pub fn decimal_field<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    precision: i32,
    scale: i32,
    bits: i32,
) -> WIPOffset<Field<'a>> {
    let mut d = arrow_ipc::DecimalBuilder::new(fbb);
    d.add_precision(precision);
    d.add_scale(scale);
    d.add_bitWidth(bits);
    let d = d.finish().as_union_value();
    field(fbb, "d", Type::Decimal, d, &[])
}

/// A schema message with the fields `make` builds.
pub fn schema_message(make: impl for<'a> FnOnce(&mut FlatBufferBuilder<'a>) -> Vec<WIPOffset<Field<'a>>>) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let fields = make(&mut fbb);
    let fields = fbb.create_vector(&fields);
    let mut schema = SchemaBuilder::new(&mut fbb);
    schema.add_fields(fields);
    let schema = schema.finish();
    let mut msg = MessageBuilder::new(&mut fbb);
    msg.add_version(MetadataVersion::V5);
    msg.add_header_type(MessageHeader::Schema);
    msg.add_header(schema.as_union_value());
    let msg = msg.finish();
    fbb.finish(msg, None);
    frame(fbb.finished_data(), &[])
}

/// A record batch message with the given rows, nodes (length, nulls), buffers (offset,
/// length) and body.
pub fn batch_message(rows: i64, nodes: &[(i64, i64)], buffers: &[(i64, i64)], body: &[u8]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let nodes: Vec<_> = nodes.iter().map(|&(l, n)| FieldNode::new(l, n)).collect();
    let buffers: Vec<_> = buffers.iter().map(|&(o, l)| IpcBuffer::new(o, l)).collect();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(&buffers);
    let mut rb = RecordBatchBuilder::new(&mut fbb);
    rb.add_length(rows);
    rb.add_nodes(nodes);
    rb.add_buffers(buffers);
    let rb = rb.finish();
    let mut msg = MessageBuilder::new(&mut fbb);
    msg.add_version(MetadataVersion::V5);
    msg.add_header_type(MessageHeader::RecordBatch);
    msg.add_header(rb.as_union_value());
    msg.add_bodyLength(body.len() as i64);
    let msg = msg.finish();
    fbb.finish(msg, None);
    frame(fbb.finished_data(), body)
}

/// Concatenates messages and the end-of-stream marker.
pub fn stream(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = messages.concat();
    out.extend_from_slice(&EOS);
    out
}

/// A valid schema of one Int64 column named `v`.
pub fn int64_schema() -> Vec<u8> {
    schema_message(|fbb| vec![int_field(fbb, "v", 64)])
}
