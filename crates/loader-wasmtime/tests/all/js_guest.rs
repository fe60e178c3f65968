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

    // A DataFusion-sized batch, through the guest's typed-array paths inside QuickJS: the
    // carry between an Int64's 32-bit words, negative values, nulls.
    let values: Vec<Option<i64>> =
        (0..8_192i64).map(|i| (i % 10 != 0).then_some((i - 4_096) * 0x1_0000_0001 + 0xffff_ffff)).collect();
    let out = js.call("add_one", &batch(vec![Arc::new(Int64Array::from(values.clone()))])).unwrap();
    let expected = Int64Array::from(values.iter().map(|v| v.map(|v| v + 1)).collect::<Vec<_>>());
    assert_eq!(out.as_ref(), &expected as &dyn Array);
    let words: Vec<Option<String>> = (0..8_192).map(|i| (i % 7 != 0).then(|| format!("item-{i}-é"))).collect();
    let out = js.call("upper", &batch(vec![Arc::new(StringArray::from(words.clone()))])).unwrap();
    let expected =
        StringArray::from(words.iter().map(|w| w.as_ref().map(|w| w.to_ascii_uppercase())).collect::<Vec<_>>());
    assert_eq!(out.as_ref(), &expected as &dyn Array);
}
