//! DataFusion integration (feature `datafusion`): [`Plugin`] as a [`UdfPlugin`], and
//! [`Runtime::register_udfs`].

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_contract::{AggregateOp, CallOptions, Description, Error, Limits};
use plugrt_datafusion::datafusion::execution::context::SessionContext;
use plugrt_datafusion::{Naming, UdfPlugin};

use crate::{Plugin, Runtime};

impl UdfPlugin for Plugin {
    fn description(&self) -> Arc<Description> {
        Plugin::description(self)
    }
    fn limits(&self) -> Limits {
        Plugin::limits(self)
    }
    fn call(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error> {
        Plugin::call_with(self, function, batch, options)
    }
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> Result<RecordBatch, Error> {
        Plugin::aggregate_reported(self, function, op, states, rows, options).0
    }
}

impl Runtime {
    /// Registers every function of every plugin loaded now as a UDF of `ctx`, aggregates as
    /// aggregate UDFs (see
    /// `plugrt::datafusion::register`); returns the SQL names. Plugins loaded later are not
    /// added: call it again, or [`plugrt_datafusion::register`] for one plugin.
    pub fn register_udfs(&self, ctx: &SessionContext, naming: Naming) -> Vec<String> {
        self.loaded()
            .into_iter()
            .flat_map(|plugin| plugrt_datafusion::register(ctx, Arc::new(plugin), naming))
            .collect()
    }
}
