//! Hot reload: an atomic swap to a new version of the same plugin.
//! Shared with plugrt-extism's tests.

use std::sync::Arc;

use crate::api::Error;
use arrow_array::{Array, Int64Array};

use crate::common::{batch, fixture, load};

#[test]
fn reload_swaps_in_a_fresh_version_for_every_clone() {
    let plugin = load("c_udf");
    let clone = plugin.clone();
    let input = batch(vec![Arc::new(Int64Array::from(vec![1, 2]))]);
    plugin.call("add_one", &input).unwrap();
    assert_eq!(plugin.metrics().counters.acquires, 1);
    plugin.reload(&fixture("c_udf")).unwrap();
    // The clone sees the new version: a new pool that has served nothing yet.
    assert_eq!(clone.metrics().counters.acquires, 0);
    let out = clone.call("add_one", &input).unwrap();
    assert_eq!(out.as_ref(), &Int64Array::from(vec![2, 3]) as &dyn Array);
    assert_eq!(plugin.metrics().counters.acquires, 1);
}

#[test]
fn a_reload_under_another_name_is_refused_and_changes_nothing() {
    let plugin = load("c_udf");
    let err = plugin.reload(&fixture("probe")).unwrap_err();
    assert!(
        matches!(&err, Error::Load { plugin, message } if plugin == "c_udf" && message.contains("`probe`")),
        "{err}"
    );
    let err = plugin.reload(b"not wasm").unwrap_err();
    assert!(matches!(err, Error::Load { .. }), "{err}");
    assert_eq!(&*plugin.name(), "c_udf");
    assert!(plugin.call("add_one", &batch(vec![Arc::new(Int64Array::from(vec![1]))])).is_ok());
}
