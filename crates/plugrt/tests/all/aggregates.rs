//! Aggregate functions (contract 0.2.0) through the façade, for every flavour this build has:
//! the C guest's aggregates step by step, bad states from the `bad_state` fixture, the host's
//! own checks, and 0.1.0 plugins next to them.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow_schema::Schema;
use plugrt::{AggregateOp, Error, GuestErrorKind, Limits, Plugin};

use crate::common::{fixture, flavours, limits, runtime};

/// A state batch of `groups` groups that have seen no rows: every field null.
fn empty_states(plugin: &Plugin, aggregate: &str, groups: usize) -> RecordBatch {
    let description = plugin.description();
    let signature = description.aggregate(aggregate).expect("declared");
    let columns = signature.state.iter().map(|f| new_null_array(f.data_type(), groups)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(signature.state.clone())), columns).unwrap()
}

/// An update's or merge's rows: the group column, then `values`.
fn rows(groups: Vec<u32>, values: Vec<ArrayRef>) -> RecordBatch {
    let mut columns: Vec<(String, ArrayRef)> = vec![("group".into(), Arc::new(UInt32Array::from(groups)))];
    columns.extend(values.into_iter().enumerate().map(|(i, v)| (format!("arg{i}"), v)));
    RecordBatch::try_from_iter(columns).unwrap()
}

/// States as rows: a merge's partial states keyed by `groups`.
fn as_rows(groups: Vec<u32>, states: &RecordBatch) -> RecordBatch {
    rows(groups, states.columns().to_vec())
}

fn c_udf(flavour: plugrt::Flavour) -> Plugin {
    runtime().load(&fixture(flavour, "c_udf")).unwrap_or_else(|e| panic!("{flavour}: {e}"))
}

fn step(plugin: &Plugin, name: &str, op: AggregateOp, states: &RecordBatch, rows: Option<&RecordBatch>) -> RecordBatch {
    plugin.aggregate(name, op, states, rows).unwrap_or_else(|e| panic!("{name}/{op}: {e}"))
}

fn ints(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

#[test]
fn the_c_guest_declares_its_aggregates_with_their_state() {
    for flavour in flavours() {
        let description = c_udf(flavour).description();
        assert_eq!(description.contract, "plugrt:udf@0.2.0");
        let names: Vec<&str> = description.aggregates.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["sum_i64", "avg_f64", "concat_ws", "min_max_spread"], "{flavour}");
        let spread = description.aggregate("min_max_spread").unwrap();
        let fields: Vec<&str> = spread.state.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(fields, ["min", "max"]);
        // Scalars are still there, and still work.
        assert!(description.function("add_one").is_some());
    }
}

#[test]
fn sum_i64_updates_merges_and_finishes_whole_batches() {
    for flavour in flavours() {
        let plugin = c_udf(flavour);
        // Three groups; group 2 sees only nulls.
        let start = empty_states(&plugin, "sum_i64", 3);
        let batch = rows(vec![0, 1, 0, 2, 1, 0], vec![ints(vec![Some(1), Some(10), Some(2), None, Some(20), None])]);
        let states = step(&plugin, "sum_i64", AggregateOp::Update, &start, Some(&batch));
        assert_eq!(states.num_rows(), 3);
        assert_eq!(states.schema().field(0).name(), "sum");
        let batch = rows(vec![1, 0], vec![ints(vec![Some(5), Some(-3)])]);
        let states = step(&plugin, "sum_i64", AggregateOp::Update, &states, Some(&batch));
        // Another accumulator's partial states for groups 2 and 0 (group 2's first value).
        let partial = RecordBatch::try_from_iter([("sum", ints(vec![Some(7), Some(100)]))]).unwrap();
        let merged = step(&plugin, "sum_i64", AggregateOp::Merge, &states, Some(&as_rows(vec![2, 0], &partial)));
        let result = step(&plugin, "sum_i64", AggregateOp::Finish, &merged, None);
        assert_eq!(result.schema().field(0).name(), "result");
        let expected: ArrayRef = ints(vec![Some(100), Some(35), Some(7)]);
        assert_eq!(result.column(0), &expected, "{flavour}");
        // A group that never saw a value finishes as null, like SQL's sum.
        let untouched = step(&plugin, "sum_i64", AggregateOp::Finish, &empty_states(&plugin, "sum_i64", 2), None);
        assert_eq!(untouched.column(0).null_count(), 2, "{flavour}");
        let metrics = plugin.function_metrics();
        let sum = metrics.iter().find(|m| m.function == "sum_i64").expect("aggregates are counted");
        assert_eq!(sum.calls_with(plugrt::Outcome::Ok), 5, "{flavour}: one call per step");
    }
}

#[test]
fn avg_concat_ws_and_min_max_spread_fold_every_group_in_one_step() {
    for flavour in flavours() {
        let plugin = c_udf(flavour);
        let values: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), Some(2.0), None, Some(4.5), Some(0.5)]));
        let batch = rows(vec![0, 0, 1, 1, 1], vec![values]);
        let states = step(&plugin, "avg_f64", AggregateOp::Update, &empty_states(&plugin, "avg_f64", 3), Some(&batch));
        let avg = step(&plugin, "avg_f64", AggregateOp::Finish, &states, None);
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), Some(2.5), None]));
        assert_eq!(avg.column(0), &expected, "{flavour}");

        let sep: ArrayRef = Arc::new(StringArray::from(vec!["-", "-", "-", "+"]));
        let words: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("c")]));
        let batch = rows(vec![0, 0, 1, 0], vec![sep, words]);
        let states =
            step(&plugin, "concat_ws", AggregateOp::Update, &empty_states(&plugin, "concat_ws", 2), Some(&batch));
        let joined = step(&plugin, "concat_ws", AggregateOp::Finish, &states, None);
        let expected: ArrayRef = Arc::new(StringArray::from(vec![Some("a-b-c"), None]));
        assert_eq!(joined.column(0), &expected, "{flavour}: the group keeps its first separator");

        let batch = rows(vec![0, 1, 0, 0], vec![ints(vec![Some(5), Some(-2), Some(9), Some(-1)])]);
        let states = step(
            &plugin,
            "min_max_spread",
            AggregateOp::Update,
            &empty_states(&plugin, "min_max_spread", 2),
            Some(&batch),
        );
        assert_eq!(states.num_columns(), 2);
        let spread = step(&plugin, "min_max_spread", AggregateOp::Finish, &states, None);
        assert_eq!(spread.column(0), &ints(vec![Some(10), Some(0)]), "{flavour}");
    }
}

#[test]
fn an_overflowing_sum_is_the_guests_error_and_the_pool_serves_on() {
    for flavour in flavours() {
        let plugin = c_udf(flavour);
        let batch = rows(vec![0, 0], vec![ints(vec![Some(i64::MAX), Some(1)])]);
        let states = empty_states(&plugin, "sum_i64", 1);
        let err = plugin.aggregate("sum_i64", AggregateOp::Update, &states, Some(&batch)).unwrap_err();
        assert!(
            matches!(&err, Error::Guest { kind: GuestErrorKind::InvalidArgument, message, .. } if message.contains("overflow")),
            "{flavour}: {err}"
        );
        assert!(err.to_string().contains("c_udf") && err.to_string().contains("sum_i64/update"), "{err}");
        assert_eq!(plugin.metrics().status.leased, 0);
        let ok = rows(vec![0], vec![ints(vec![Some(1)])]);
        step(&plugin, "sum_i64", AggregateOp::Update, &states, Some(&ok));
    }
}

#[test]
fn what_the_host_sends_is_checked_before_any_guest_runs() {
    for flavour in flavours() {
        let plugin = c_udf(flavour);
        let states = empty_states(&plugin, "sum_i64", 2);
        let cases = [
            (rows(vec![0, 2], vec![ints(vec![Some(1), Some(1)])]), "group 2 is not a row"),
            (rows(vec![0], vec![Arc::new(Float64Array::from(vec![1.0]))]), "must be Int64"),
        ];
        for (batch, needle) in cases {
            let err = plugin.aggregate("sum_i64", AggregateOp::Update, &states, Some(&batch)).unwrap_err();
            assert!(matches!(&err, Error::InvalidInput { message, .. } if message.contains(needle)), "{err}");
        }
        let err = plugin.aggregate("sum_i64", AggregateOp::Finish, &empty_states(&plugin, "avg_f64", 1), None);
        assert!(matches!(err, Err(Error::InvalidInput { .. })), "{err:?}");
        let err = plugin.aggregate("add_one", AggregateOp::Finish, &states, None).unwrap_err();
        assert!(matches!(err, Error::UnknownFunction { .. }), "a scalar is not an aggregate: {err}");
        let err = plugin.call("sum_i64", &crate::common::one_int()).unwrap_err();
        assert!(matches!(err, Error::UnknownFunction { .. }), "an aggregate is not a scalar: {err}");
        let counted = |name: &str| plugin.function_metrics().iter().find(|m| m.function == name).unwrap().total_calls();
        assert_eq!((counted("add_one"), counted("sum_i64")), (0, 3), "{flavour}: wrong-kind calls are not counted");
        // Zero groups: nothing to do, and no instance is taken.
        let acquires = plugin.metrics().counters.acquires;
        let none = step(&plugin, "avg_f64", AggregateOp::Finish, &empty_states(&plugin, "avg_f64", 0), None);
        assert_eq!((none.num_rows(), plugin.metrics().counters.acquires), (0, acquires));
    }
}

#[test]
fn bad_states_from_a_guest_are_typed_errors_and_lose_nothing() {
    for flavour in flavours() {
        let runtime = plugrt::Runtime::builder()
            .limits(Limits { output_bytes: 64 << 10, ..limits() })
            .max_instances(64)
            .build()
            .unwrap();
        let plugin = runtime.load(&fixture(flavour, "bad_state")).unwrap_or_else(|e| panic!("{flavour}: {e}"));
        let one = rows(vec![0], vec![ints(vec![Some(1)])]);
        let mut outcomes = Vec::new();
        for name in ["liar", "double", "bloated", "crash"] {
            let states = empty_states(&plugin, name, 1);
            let err = plugin.aggregate(name, AggregateOp::Update, &states, Some(&one)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("bad_state") && text.contains(&format!("{name}/update")), "{flavour}: {text}");
            outcomes.push(plugrt::Outcome::of(&Err::<(), _>(err)));
            assert_eq!(plugin.metrics().status.leased, 0, "{flavour} {name}: a lease leaked");
        }
        use plugrt::Outcome::{Contract, Trap};
        assert_eq!(outcomes, [Contract, Contract, Contract, Trap], "{flavour}");
        let err = plugin.aggregate("liar", AggregateOp::Update, &empty_states(&plugin, "liar", 1), Some(&one));
        assert!(
            matches!(&err, Err(Error::Contract { source, .. }) if source.to_string().contains("state field `acc`")),
            "{flavour}: {err:?}"
        );
        let err = plugin.aggregate("bloated", AggregateOp::Finish, &empty_states(&plugin, "bloated", 1), None);
        assert!(matches!(err, Err(Error::OutputTooLarge { .. })), "{flavour}: {err:?}");
    }
}

#[test]
fn plugins_of_contract_0_1_0_load_and_call_beside_0_2_0_ones() {
    for flavour in flavours() {
        let runtime = runtime();
        let old = runtime.load(&fixture(flavour, "probe")).unwrap();
        assert_eq!(old.description().contract, "plugrt:udf@0.1.0");
        assert!(old.description().aggregates.is_empty());
        let new = runtime.load(&fixture(flavour, "c_udf")).unwrap();
        assert_eq!(crate::common::calls_seen(&old.call("calls", &crate::common::no_args(1)).unwrap()), 1, "{flavour}");
        let out = new.call("add_one", &crate::common::one_int()).unwrap();
        assert_eq!(out.as_any().downcast_ref::<Int64Array>().unwrap().value(0), 2);
    }
}

#[cfg(feature = "wasmtime")]
#[test]
fn the_js_guests_avg_steps_like_the_c_guests() {
    let runtime = runtime();
    let js = runtime.load(&fixture(plugrt::Flavour::Component, "js_udf")).unwrap();
    let c = runtime.load(&fixture(plugrt::Flavour::Component, "c_udf")).unwrap();
    let values: Vec<Option<f64>> = (0..8192).map(|i| (i % 9 != 0).then_some((i % 100) as f64 * 0.25)).collect();
    let groups: Vec<u32> = (0..8192).map(|i| (i * 7 % 1000) as u32).collect();
    let batch = rows(groups, vec![Arc::new(Float64Array::from(values))]);
    let finish = |plugin: &Plugin, name: &str| {
        let states = step(plugin, name, AggregateOp::Update, &empty_states(plugin, name, 1000), Some(&batch));
        // A merge of the states into themselves doubles sum and count: the average stays.
        let all: Vec<u32> = (0..1000).collect();
        let merged = step(plugin, name, AggregateOp::Merge, &states, Some(&as_rows(all, &states)));
        step(plugin, name, AggregateOp::Finish, &merged, None).column(0).clone()
    };
    let (js_avg, c_avg) = (finish(&js, "avg"), finish(&c, "avg_f64"));
    assert_eq!(js_avg.as_ref(), c_avg.as_ref());
    assert_eq!(js_avg.null_count(), 0, "every group has values");
}
