//! The example documents the book's "The guest contract" chapter shows (it includes these
//! files): each must mean what the chapter says it means.

use arrow_schema::DataType;
use plugrt_contract::{GuestError, GuestErrorKind, Volatility, parse_description};

#[test]
fn the_books_describe_document_is_valid() {
    let d = parse_description(include_str!("documents/describe.json"), &[]).expect("the example parses");
    assert_eq!((d.name.as_str(), d.version.as_str()), ("demo", "1.2.0"));
    let scale = d.function("scale").expect("declares scale");
    assert_eq!(scale.args, [DataType::Float64, DataType::Float64]);
    assert_eq!(scale.returns, DataType::Float64);
    assert_eq!(scale.volatility, Volatility::Immutable);
    assert_eq!(d.functions.len(), 2);
}

#[test]
fn the_books_extism_error_is_read_field_by_field() {
    let e = GuestError::from_json(include_str!("documents/call_error.json"));
    assert_eq!(e.kind, GuestErrorKind::InvalidArgument);
    assert_eq!(e.message, "scale: arg1 must be Float64");
    assert!(!e.retryable);
}

#[test]
fn the_books_aggregate_document_is_valid() {
    let d = parse_description(include_str!("documents/describe_aggregates.json"), &[]).expect("the example parses");
    assert_eq!(d.contract, "plugrt:udf@0.2.0");
    let avg = d.aggregate("avg_f64").expect("declares avg_f64");
    assert_eq!((avg.args.as_slice(), &avg.returns), (&[DataType::Float64][..], &DataType::Float64));
    let state: Vec<(&str, &DataType)> = avg.state.iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    assert_eq!(state, [("sum", &DataType::Float64), ("count", &DataType::Int64)]);
    assert!(d.function("clamp").is_some() && d.function("avg_f64").is_none());
}
