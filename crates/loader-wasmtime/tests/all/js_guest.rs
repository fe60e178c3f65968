//! The JS guest (componentize-qjs; component flavour only) computes the right values.

use std::sync::Arc;

use arrow_array::{Array, Int64Array, StringArray};

use crate::common::{batch, load};

#[test]
fn js_guest_functions() {
    let js = load("js_udf");
    let out = js.call("add_one", &batch(vec![Arc::new(Int64Array::from(vec![Some(1), None]))])).unwrap();
    assert_eq!(out.as_ref(), &Int64Array::from(vec![Some(2), None]) as &dyn Array);
    let out = js.call("upper", &batch(vec![Arc::new(StringArray::from(vec![Some("abc"), None]))])).unwrap();
    assert_eq!(out.as_ref(), &StringArray::from(vec![Some("ABC"), None]) as &dyn Array);
}
