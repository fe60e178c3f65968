//! The realistic C guest computes the right values, and the host checks inputs first.
//! Shared with plugrt-extism's tests.

use std::sync::Arc;

use crate::api::{Error, GuestErrorKind};
use arrow_array::{Array, Float64Array, Int32Array, Int64Array, StringArray};

use crate::common::{batch, load};

#[test]
fn c_guest_functions() {
    let c = load("c_udf");
    assert_eq!(&*c.name(), "c_udf");
    let description = c.description();
    let names: Vec<_> = description.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["add_one", "scale", "str_len", "upper"]);

    let out = c.call("add_one", &batch(vec![Arc::new(Int64Array::from(vec![Some(1), None, Some(41)]))])).unwrap();
    assert_eq!(out.as_ref(), &Int64Array::from(vec![Some(2), None, Some(42)]) as &dyn Array);

    let xs = Arc::new(Float64Array::from(vec![Some(2.0), None, Some(1.5)]));
    let ys = Arc::new(Float64Array::from(vec![Some(3.0), Some(4.0), None]));
    let out = c.call("scale", &batch(vec![xs, ys])).unwrap();
    assert_eq!(out.as_ref(), &Float64Array::from(vec![Some(6.0), None, None]) as &dyn Array);

    let words = Arc::new(StringArray::from(vec![Some("héllo"), None, Some("abc")]));
    let out = c.call("str_len", &batch(vec![words.clone()])).unwrap();
    assert_eq!(out.as_ref(), &Int32Array::from(vec![Some(5), None, Some(3)]) as &dyn Array);
    let out = c.call("upper", &batch(vec![words])).unwrap();
    assert_eq!(out.as_ref(), &StringArray::from(vec![Some("HéLLO"), None, Some("ABC")]) as &dyn Array);
}

#[test]
fn c_guest_errors_pass_through() {
    let c = load("c_udf");
    let err = c.call("add_one", &batch(vec![Arc::new(Int64Array::from(vec![i64::MAX]))])).unwrap_err();
    match err {
        Error::Guest { kind: GuestErrorKind::InvalidArgument, message, retryable: false, plugin, function } => {
            assert_eq!((plugin.as_str(), function.as_str()), ("c_udf", "add_one"));
            assert!(message.contains("overflow at row 0"), "{message}");
        }
        other => panic!("expected a guest error, got {other}"),
    }
}

#[test]
fn host_checks_inputs_before_any_instance() {
    let c = load("c_udf");
    let err = c.call("add_one", &batch(vec![Arc::new(StringArray::from(vec!["x"]))])).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("arg0 must be Int64, got Utf8"), "{err}");
    let err = c.call("nope", &batch(vec![Arc::new(Int64Array::from(vec![1]))])).unwrap_err();
    assert_eq!(err.to_string(), "plugin `c_udf` has no function `nope`");
    assert_eq!(c.metrics().counters.acquires, 0, "no instance should have been used");
}
