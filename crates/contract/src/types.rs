//! The types a plugin may declare: an allow-list, not whatever arrow-rs can parse.
//!
//! A declared type reaches the host's hands in many places (the IPC validator, DataFusion's
//! signatures, the null and empty arrays the host builds for empty batches and new aggregate
//! groups), so a type string from `describe` is hostile input. [`parse_type`] bounds it before
//! any parser runs, then checks the parsed type against [`check_type`]:
//!
//! - the text is at most [`MAX_TYPE_TEXT`] bytes and holds at most [`MAX_TYPE_PARENS`] `(`,
//!   which bounds the recursion of arrow-rs's parser (it recurses once per `(` at most);
//! - the type nests at most [`MAX_TYPE_DEPTH`] levels (a primitive is one level, a list of it
//!   two), the depth the IPC validator accepts;
//! - it counts at most [`MAX_TYPE_FIELDS`] fields through its nesting;
//! - one value's fixed-width part ([`value_width`]) is at most [`MAX_VALUE_WIDTH`] bytes, so
//!   an array of nulls for a few thousand rows stays small whatever the type;
//! - every part of it is one of the allowed types below, with sane parameters.
//!
//! Allowed: `Boolean`, the signed and unsigned integers, `Float16/32/64`, `Decimal32/64/128/256`
//! (precision 1 to the type's maximum, scale 0 to the precision), `Date32`, `Date64`,
//! `Time32(Second | Millisecond)`, `Time64(Microsecond | Nanosecond)`, `Timestamp` (any unit,
//! a time zone of at most 64 characters of letters, digits and `+-_:/`), `Duration`,
//! `Interval`, `Binary`, `LargeBinary`, `Utf8`, `LargeUtf8`, `FixedSizeBinary(n)` with n ≥ 1,
//! `List`, `LargeList`, `FixedSizeList` with a size ≥ 1, `Struct` with at least one field, and
//! `Map` whose entries are a struct of a non-nullable key and a value.
//!
//! Refused: `Null` and every other zero-width type (a stream of them claims any number of
//! values for no bytes), dictionaries, unions, run-end encoding and the view types (the IPC
//! validator refuses them in data too).
//!
//! # What it does not do
//! It does not check names of nested fields against any rule: outputs are compared with the
//! declared type by the IPC validator and the call's checks, not by this module.

use std::str::FromStr;

use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};

/// Longest text of one declared type, in bytes.
pub const MAX_TYPE_TEXT: usize = 1024;
/// Most `(` one declared type's text may hold: each is at most one level of arrow-rs's
/// recursive parser, so this bounds its stack before it runs.
pub const MAX_TYPE_PARENS: usize = 64;
/// Deepest nesting of a declared type: `Int64` is 1, `List(Int64)` 2. The IPC validator's
/// default depth, so every declared type can cross the boundary.
pub const MAX_TYPE_DEPTH: usize = plugrt_arrow_ipc::DEFAULT_MAX_DEPTH;
/// Most fields one declared type counts through its nesting (a struct of 3 fields counts 3,
/// a list 1).
pub const MAX_TYPE_FIELDS: usize = 256;
/// Largest fixed-width part of one value, in bytes (see [`value_width`]): 64 KiB holds an
/// embedding of 4,096 `Float64` or 8,192 `Float32` with their validity bits. The DataFusion
/// adapter sizes its calls by it, so wide states make smaller calls, not larger ones.
pub const MAX_VALUE_WIDTH: usize = 64 << 10;
/// Longest time-zone text of a `Timestamp`.
pub const MAX_TIME_ZONE: usize = 64;

/// Parses one declared type, bounded before arrow-rs's parser sees it, and checks it against
/// the allow-list ([`check_type`]). The error says what was refused, without the text (which
/// may be huge); the caller adds which argument or return type it was.
pub fn parse_type(text: &str) -> Result<DataType, String> {
    if text.len() > MAX_TYPE_TEXT {
        return Err(format!("type text of {} bytes; at most {MAX_TYPE_TEXT}", text.len()));
    }
    let (mut open, mut depth, mut deepest) = (0usize, 0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'(' => {
                open += 1;
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // `deepest` counts parentheses inside quoted names too, so it can only overstate the
    // nesting; it is what the message reports when it is over the limit.
    if deepest + 1 > MAX_TYPE_DEPTH {
        return Err(format!("type nests {} levels; at most {MAX_TYPE_DEPTH}", deepest + 1));
    }
    if open > MAX_TYPE_PARENS {
        return Err(format!("type text holds {open} parentheses; at most {MAX_TYPE_PARENS}"));
    }
    let data_type = DataType::from_str(text).map_err(|e| format!("unknown type `{text}`: {e}"))?;
    check_type(&data_type)?;
    Ok(data_type)
}

/// Checks a type against the allow-list and the bounds of this module (see the module docs).
/// Takes a parsed type: use it on types that come from anywhere but [`parse_type`].
pub fn check_type(data_type: &DataType) -> Result<(), String> {
    // A type built by a caller may nest without bound (through kinds the allow-list refuses
    // too): measure it, to a bounded depth, before anything recurses through all of it.
    if deeper_than(data_type, MAX_TYPE_DEPTH) {
        return Err(format!("type nests more than {MAX_TYPE_DEPTH} levels"));
    }
    let mut fields = 0;
    check(data_type, &mut fields)?;
    let width = value_width(data_type);
    if width > MAX_VALUE_WIDTH {
        return Err(format!("type {data_type} takes {width} bytes per value; at most {MAX_VALUE_WIDTH}"));
    }
    Ok(())
}

/// Whether `data_type` nests more than `levels` levels, through every kind of child; recurses
/// at most `levels + 1` deep.
fn deeper_than(data_type: &DataType, levels: usize) -> bool {
    use DataType as T;
    let Some(below) = levels.checked_sub(1) else { return true };
    match data_type {
        T::List(f) | T::LargeList(f) | T::ListView(f) | T::LargeListView(f) | T::FixedSizeList(f, _) | T::Map(f, _) => {
            deeper_than(f.data_type(), below)
        }
        T::Struct(fields) => fields.iter().any(|f| deeper_than(f.data_type(), below)),
        T::Union(fields, _) => fields.iter().any(|(_, f)| deeper_than(f.data_type(), below)),
        T::Dictionary(key, value) => deeper_than(key, below) || deeper_than(value, below),
        T::RunEndEncoded(ends, values) => {
            deeper_than(ends.data_type(), below) || deeper_than(values.data_type(), below)
        }
        _ => false,
    }
}

/// Checks every part of a type [`deeper_than`] has measured (so this recursion is bounded).
fn check(data_type: &DataType, fields: &mut usize) -> Result<(), String> {
    use DataType as T;
    let refuse = |why: &str| Err(format!("type {data_type} is not allowed: {why}"));
    let child = |field: &Field, fields: &mut usize| {
        *fields += 1;
        if *fields > MAX_TYPE_FIELDS {
            return Err(format!("type counts more than {MAX_TYPE_FIELDS} fields"));
        }
        check(field.data_type(), fields)
    };
    match data_type {
        T::Boolean
        | T::Int8
        | T::Int16
        | T::Int32
        | T::Int64
        | T::UInt8
        | T::UInt16
        | T::UInt32
        | T::UInt64
        | T::Float16
        | T::Float32
        | T::Float64
        | T::Date32
        | T::Date64
        | T::Binary
        | T::LargeBinary
        | T::Utf8
        | T::LargeUtf8
        | T::Duration(_)
        | T::Interval(IntervalUnit::YearMonth | IntervalUnit::DayTime | IntervalUnit::MonthDayNano) => Ok(()),
        T::Time32(TimeUnit::Second | TimeUnit::Millisecond)
        | T::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond) => Ok(()),
        T::Time32(_) | T::Time64(_) => refuse("Time32 takes seconds or milliseconds, Time64 micro- or nanoseconds"),
        T::Timestamp(_, None) => Ok(()),
        T::Timestamp(_, Some(zone)) => {
            let fine = |c: char| c.is_ascii_alphanumeric() || "+-_:/".contains(c);
            if zone.is_empty() || zone.len() > MAX_TIME_ZONE || !zone.chars().all(fine) {
                return refuse("a time zone is 1-64 characters of letters, digits and +-_:/");
            }
            Ok(())
        }
        T::Decimal32(p, s) | T::Decimal64(p, s) | T::Decimal128(p, s) | T::Decimal256(p, s) => {
            let max = match data_type {
                T::Decimal32(..) => 9,
                T::Decimal64(..) => 18,
                T::Decimal128(..) => 38,
                _ => 76,
            };
            // Negative scales are refused: DataFusion's decimal coercion overflows on them.
            if !(1..=max).contains(p) || !(0..=i16::from(*p)).contains(&i16::from(*s)) {
                return refuse(&format!("precision must be 1 to {max} and scale 0 to the precision"));
            }
            Ok(())
        }
        T::FixedSizeBinary(n) if *n >= 1 => Ok(()),
        T::FixedSizeBinary(_) => refuse("a width of at least 1 byte"),
        T::List(field) | T::LargeList(field) => child(field, fields),
        T::FixedSizeList(field, n) if *n >= 1 => child(field, fields),
        T::FixedSizeList(..) => refuse("a size of at least 1"),
        T::Struct(members) if members.is_empty() => refuse("a struct needs at least one field"),
        T::Struct(members) => members.iter().try_for_each(|f| child(f, fields)),
        T::Map(entries, _) => match entries.data_type() {
            T::Struct(kv) if kv.len() == 2 && !kv[0].is_nullable() => child(entries, fields),
            _ => refuse("map entries are a struct of a non-nullable key and a value"),
        },
        T::Null => refuse("it carries no data"),
        T::Dictionary(..) => refuse("dictionaries are not supported"),
        T::Union(..) => refuse("unions are not supported"),
        T::RunEndEncoded(..) => refuse("run-end encoding is not supported"),
        T::Utf8View | T::BinaryView | T::ListView(_) | T::LargeListView(_) => refuse("view types are not supported"),
    }
}

/// The fixed-width bytes of one value of `data_type`: its own buffers' share per value (the
/// offsets of variable-size types, a bit of validity), times the size of fixed-size lists,
/// plus its children's, counted in bits and rounded up to bytes. What an array of N nulls of
/// the type allocates is about N times this. Saturates instead of overflowing.
pub fn value_width(data_type: &DataType) -> usize {
    value_bits(data_type).div_ceil(8)
}

fn value_bits(data_type: &DataType) -> usize {
    use DataType as T;
    let bytes = match data_type {
        T::Utf8 | T::Binary | T::List(_) | T::Map(..) => 4,
        T::LargeUtf8 | T::LargeBinary | T::LargeList(_) => 8,
        T::FixedSizeBinary(n) => usize::try_from(*n).unwrap_or(0),
        other => other.primitive_width().unwrap_or(0),
    };
    // Its bytes, a validity bit, and a value bit for booleans.
    let own = bytes.saturating_mul(8).saturating_add(1 + usize::from(matches!(data_type, T::Boolean)));
    let children = match data_type {
        T::List(f) | T::LargeList(f) | T::Map(f, _) => value_bits(f.data_type()),
        T::FixedSizeList(f, n) => value_bits(f.data_type()).saturating_mul(usize::try_from(*n).unwrap_or(0)),
        T::Struct(members) => members.iter().fold(0usize, |sum, f| sum.saturating_add(value_bits(f.data_type()))),
        _ => 0,
    };
    own.saturating_add(children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{new_empty_array, new_null_array};

    /// One example of every allowed kind of type.
    const ALLOWED: &[&str] = &[
        "Boolean",
        "Int8",
        "UInt64",
        "Float16",
        "Float64",
        "Decimal32(9, 2)",
        "Decimal128(38, 10)",
        "Decimal256(76, 5)",
        "Date32",
        "Date64",
        "Time32(Second)",
        "Time64(Nanosecond)",
        "Timestamp(Microsecond, None)",
        r#"Timestamp(Nanosecond, Some("+02:00"))"#,
        r#"Timestamp(Second, Some("Europe/Paris"))"#,
        "Duration(Millisecond)",
        "Interval(MonthDayNano)",
        "Binary",
        "LargeUtf8",
        "FixedSizeBinary(16)",
        "List(Int32)",
        "LargeList(Utf8)",
        "FixedSizeList(4096 x Float64)",
        "FixedSizeList(8192 x Float32)",
        r#"Struct("a": Int64, "b": List(Utf8))"#,
        r#"Map("entries": Struct("key": non-null Utf8, "value": Int64), unsorted)"#,
    ];

    #[test]
    fn allowed_types_parse_and_the_host_can_build_arrays_of_them() {
        for text in ALLOWED {
            let data_type = parse_type(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            // What the DataFusion adapter builds: empty answers, null states for new groups.
            assert_eq!(new_empty_array(&data_type).len(), 0, "{text}");
            assert_eq!(new_null_array(&data_type, 3).null_count(), 3, "{text}");
            // What the width bounds: an array of N nulls takes about N values' width.
            let wide = new_null_array(&data_type, 1024);
            let bound = 1024 * value_width(&data_type) + 4096;
            assert!(wide.get_array_memory_size() <= bound.max(1024 * 16), "{text}: {}", wide.get_array_memory_size());
        }
    }

    #[test]
    fn refused_types_name_why() {
        let cases = [
            ("Null", "carries no data"),
            ("List(Null)", "carries no data"),
            ("FixedSizeBinary(0)", "at least 1 byte"),
            ("FixedSizeList(0 x Int8)", "size of at least 1"),
            ("Dictionary(Utf8, Utf8)", "dictionaries"),
            ("Dictionary(Int32, Utf8)", "dictionaries"),
            (r#"RunEndEncoded("run_ends": Int32, "values": Utf8)"#, "run-end"),
            ("Utf8View", "view types"),
            ("ListView(Int64)", "view types"),
            ("Struct()", "at least one field"),
            (r#"Timestamp(Second, Some("x\"y"))"#, "time zone"),
            (r#"Map("entries": Struct("key": Utf8, "value": Int64), unsorted)"#, "non-nullable key"),
            ("FixedSizeList(2147483647 x Int64)", "bytes per value"),
            ("FixedSizeList(128 x FixedSizeList(128 x Int64))", "bytes per value"),
            ("FixedSizeBinary(2147483647)", "bytes per value"),
            ("Int65", "unknown type"),
        ];
        for (text, needle) in cases {
            let err = parse_type(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {needle:?} not in {err:?}");
        }
    }

    #[test]
    fn text_length_parentheses_and_depth_are_bounded_before_parsing() {
        // 10,000 levels would overflow arrow-rs's recursive parser: refused by counting.
        let deep = format!("{}Int64{}", "List(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_type(&deep).unwrap_err().contains("type text of 60005 bytes"));
        let deep = format!("{}Int64{}", "List(".repeat(100), ")".repeat(100));
        assert_eq!(parse_type(&deep).unwrap_err(), "type nests 101 levels; at most 16");
        // Parentheses inside quoted names cannot hide nesting from the count.
        let hidden = format!(r#"Struct("{}": Int64)"#, ")(".repeat(100));
        assert!(parse_type(&hidden).unwrap_err().contains("parentheses"));
        // 16 levels is the most.
        let at_limit = format!("{}Int64{}", "List(".repeat(15), ")".repeat(15));
        parse_type(&at_limit).unwrap();
        let over = format!("{}Int64{}", "List(".repeat(16), ")".repeat(16));
        assert_eq!(parse_type(&over).unwrap_err(), "type nests 17 levels; at most 16");
        // Quoted `)` can make the count understate the nesting; the parsed type is checked.
        let understated = format!(
            r#"{}Struct("{}": {}Int64{}){}"#,
            "List(".repeat(10),
            ")".repeat(10),
            "List(".repeat(10),
            ")".repeat(10),
            ")".repeat(10)
        );
        assert_eq!(parse_type(&understated).unwrap_err(), "type nests more than 16 levels");
    }

    #[test]
    fn types_arrow_rs_parses_no_text_for_are_checked_too() {
        let sparse = DataType::Union(arrow_schema::UnionFields::empty(), arrow_schema::UnionMode::Sparse);
        assert!(check_type(&sparse).unwrap_err().contains("unions"));
        assert!(check_type(&DataType::Time32(TimeUnit::Nanosecond)).unwrap_err().contains("Time32 takes"));
        assert!(check_type(&DataType::Decimal128(0, 0)).unwrap_err().contains("precision must be 1 to 38"));
        assert!(check_type(&DataType::Decimal32(5, 6)).unwrap_err().contains("scale 0 to the precision"));
        assert!(check_type(&DataType::Decimal256(76, -128)).unwrap_err().contains("scale 0 to the precision"));
        // A type built without text, nesting far deeper than any text could: refused by a
        // bounded measure before anything walks or prints all of it.
        let mut deep = DataType::Int64;
        for _ in 0..100_000 {
            deep = DataType::Dictionary(Box::new(DataType::Int32), Box::new(deep));
        }
        assert_eq!(check_type(&deep).unwrap_err(), "type nests more than 16 levels");
        std::mem::forget(deep); // dropping it would recurse as deep
    }

    #[test]
    fn fields_are_counted_through_the_nesting() {
        let many: Vec<String> = (0..MAX_TYPE_FIELDS + 1).map(|i| format!("\"f{i}\": Int8")).collect();
        let text = format!("Struct({})", many.join(", "));
        // Too long as text already; the field count is checked on parsed types too.
        assert!(parse_type(&text).is_err());
        let fields: Vec<Field> =
            (0..=MAX_TYPE_FIELDS).map(|i| Field::new(format!("f{i}"), DataType::Int8, true)).collect();
        let err = check_type(&DataType::Struct(fields.into())).unwrap_err();
        assert!(err.contains("fields"), "{err}");
    }
}
