//! A plugin written in Rust for the crate's unit tests.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field};
use plugrt_contract::{
    AggregateOp, AggregateSignature, CallOptions, Description, Error, Limits, Signature, Volatility,
};

use crate::{PluginIdentity, UdfPlugin};

/// A plugin written in Rust: scalar `twice(Int64)`, aggregates `sum(Int64)` and `cat(Utf8)`.
/// Its "bytes" are its version text, so two versions have two hashes.
pub(crate) struct Fake {
    identity: PluginIdentity,
}

impl Fake {
    pub(crate) fn new(version: &str) -> Self {
        Fake { identity: PluginIdentity::of("fake", version, version.as_bytes(), true) }
    }
}

pub(crate) fn description() -> Description {
    let aggregate = |name: &str, ty: DataType| AggregateSignature {
        name: name.into(),
        args: vec![ty.clone()],
        returns: ty.clone(),
        state: vec![Arc::new(Field::new("acc", ty, true))],
        volatility: Volatility::Immutable,
    };
    Description {
        contract: "plugrt:udf@0.2.0".into(),
        name: "fake".into(),
        version: "1".into(),
        functions: vec![Signature {
            name: "twice".into(),
            args: vec![DataType::Int64],
            returns: DataType::Int64,
            volatility: Volatility::Immutable,
        }],
        aggregates: vec![aggregate("sum", DataType::Int64), aggregate("cat", DataType::Utf8)],
        capabilities: Vec::new(),
    }
}

/// A state or value as text, so that one fold serves both aggregates.
pub(crate) fn texts(column: &ArrayRef) -> Vec<Option<String>> {
    if let Some(ints) = column.as_any().downcast_ref::<Int64Array>() {
        ints.iter().map(|v| v.map(|v| v.to_string())).collect()
    } else {
        let strings = column.as_any().downcast_ref::<StringArray>().expect("Int64 or Utf8");
        strings.iter().map(|v| v.map(str::to_owned)).collect()
    }
}

pub(crate) fn fold(function: &str, acc: Option<String>, value: &str) -> String {
    match (function, acc) {
        (_, None) => value.to_owned(),
        ("sum", Some(acc)) => (acc.parse::<i64>().unwrap() + value.parse::<i64>().unwrap()).to_string(),
        (_, Some(acc)) => format!("{acc},{value}"),
    }
}

pub(crate) fn column(function: &str, values: Vec<Option<String>>) -> ArrayRef {
    match function {
        "sum" => Arc::new(values.iter().map(|v| v.as_ref().map(|v| v.parse::<i64>().unwrap())).collect::<Int64Array>()),
        _ => Arc::new(values.into_iter().collect::<StringArray>()),
    }
}

impl UdfPlugin for Fake {
    fn description(&self) -> Arc<Description> {
        let mut d = description();
        d.version = self.identity.version.clone();
        Arc::new(d)
    }
    fn identity(&self) -> PluginIdentity {
        self.identity.clone()
    }
    fn limits(&self) -> Limits {
        Limits::default()
    }
    fn call(&self, _: &str, batch: &RecordBatch, _: &CallOptions) -> Result<ArrayRef, Error> {
        let ints = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("Int64");
        Ok(Arc::new(ints.iter().map(|v| v.map(|v| v * 2)).collect::<Int64Array>()))
    }
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        _: &CallOptions,
    ) -> Result<RecordBatch, Error> {
        let mut acc = texts(states.column(0));
        if let Some(rows) = rows {
            let groups = rows.column(0).as_any().downcast_ref::<UInt32Array>().unwrap();
            for (g, value) in groups.values().iter().zip(texts(rows.column(1))) {
                if let Some(value) = value {
                    let g = *g as usize;
                    acc[g] = Some(fold(function, acc[g].take(), &value));
                }
            }
        }
        let name = if op == AggregateOp::Finish { "result" } else { "acc" };
        Ok(RecordBatch::try_from_iter([(name, column(function, acc))]).unwrap())
    }
}
