//! plugrt plugins as DataFusion UDFs: `SELECT upper(name) FROM t` runs the plugin's `upper`
//! on each batch DataFusion evaluates, in a fresh sandbox per call, and
//! `SELECT g, avg_f64(x) FROM t GROUP BY g` runs its aggregate `avg_f64` in one sandbox call
//! per batch, whatever the number of groups.
//!
//! [`register`] adds every function a plugin declares to a `SessionContext`, under its
//! declared name (or `plugin_function` with [`Naming::Prefixed`]), with the exact argument
//! and return types and the volatility of its `describe` document. Each DataFusion batch
//! becomes one or more plugin calls:
//!
//! - literal arguments (`ColumnarValue::Scalar`) are expanded to the batch's rows; when every
//!   argument is a literal, the answer is a literal too;
//! - a batch of zero rows answers an empty column without calling the plugin;
//! - a batch too large for the plugin's limits is split by rows (see [`chunk_rows`]) and the
//!   answers are joined;
//! - nulls reach the guest as nulls: what a null input gives is the guest's business;
//! - a failed call fails the query with a `DataFusionError::External` whose message names the
//!   plugin and the function and whose source is the plugrt error (downcast it to
//!   [`plugrt_contract::Error`]). The session keeps working.
//!
//! Partitions call at once; each call takes an instance from the plugin's pool, and calls
//! beyond its cap wait in line for one (up to the call's time limit).
//!
//! # Aggregates
//! Each aggregate a plugin declares (contract 0.2.0) registers as an aggregate UDF with a
//! `GroupsAccumulator` and, for queries without `GROUP BY`, an `Accumulator`. The host keeps
//! every group's state as Arrow columns (the guest keeps nothing between calls):
//!
//! - each input batch is one `update` call: the states of the groups the batch touches, and
//!   its rows with each row's group among them; the guest answers those groups' new states;
//! - each batch of partial states (from another partition, in a two-phase plan) is one `merge`
//!   call the same way;
//! - emitting groups is one `finish` call per emitted block;
//! - a batch too large for the plugin's limits is split by rows like a scalar call's, one
//!   call per part;
//! - the state fields are reported to DataFusion (`NAME[FIELD]`), so partial and final
//!   aggregation across partitions work, and a plan can ship partial states elsewhere.
//!
//! A group that has seen no rows has a null state; what it finishes as is the guest's
//! business. `DISTINCT` and `ORDER BY` inside a plugin aggregate are not supported (the
//! former is refused with `NotImplemented`, the latter ignored).
//!
//! # Cancellation
//! A query run through [`execute_stream`] or [`collect`] carries a [`QueryCancel`] token in
//! its configuration. Dropping its stream (a cancelled query, a client gone, a `LIMIT`
//! satisfied and the stream dropped) cancels the token, and every call of the query then in
//! a guest is interrupted (within a millisecond or so; see the book's SQL chapter for the
//! measured figure) and fails with `Error::Cancelled`; its instance is discarded. A query run
//! with DataFusion's own `DataFrame::collect` has no token: its calls run to their own time
//! limit.
//!
//! # Memory
//! Each call asks the session's `MemoryPool` (the one [`register`] found in the context, or
//! the one given to [`udfs`]) for what it holds while it runs: the argument and result IPC
//! buffers, and the guest's linear memory as it grows (for an Extism plugin, whose growth the
//! host cannot see, its whole memory limit up front). A refusal fails the query with
//! `DataFusionError::ResourcesExhausted` naming the plugin and function; the reservation is
//! freed when the call returns, so result columns held by later operators are not counted.
//!
//! # Plans that leave the process
//! [`codec`] has DataFusion extension codecs (`datafusion-proto`) that carry every plugin UDF
//! in logical and physical plans as plugin name, version and SHA-256 (and, in self-contained
//! plans, the plugin's bytes), and rebuild it on the receiving side from the very same plugin
//! or fail naming it. With feature `ballista`, [`ballista`] builds Ballista sessions whose
//! scheduler and executors use them.
//!
//! The `plugrt` crate re-exports this crate as `plugrt::datafusion` (feature `datafusion`),
//! implements [`UdfPlugin`] for its `Plugin` and [`PluginCatalog`] for its `Runtime`.
//!
//! # What it does not do
//! It registers no table or window functions and never changes the declared types:
//! DataFusion's usual coercion applies to the arguments. A call waiting for an instance (the
//! plugin at its cap) notices a cancel only once it gets one. Aggregate steps are not
//! interrupted by a dropped query (DataFusion gives accumulators no view of the query's
//! configuration): each runs to its own time limit, and the query stops after it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, new_empty_array};
use arrow_schema::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility as DfVolatility,
};
use plugrt_contract::{AggregateOp, CallMemory, CallOptions, CancelToken, Description, Error, Limits, Volatility};

mod aggregate;
#[cfg(feature = "ballista")]
pub mod ballista;
mod cancel;
pub mod codec;
#[cfg(test)]
mod fake;

pub use cancel::{CancellableStream, QueryCancel, collect, execute_stream};
pub use codec::{CodecError, CodecOptions, PlanBytes, PluginCatalog, PluginCodec, PluginIdentity};

/// The DataFusion this crate is built against, for hosts that want the same version.
pub use datafusion;
/// The datafusion-proto (plan serialization) the codecs implement.
pub use datafusion_proto;

/// What a plugin must offer to be registered: its description, its limits, a call and an
/// aggregate step. The `plugrt` crate's `Plugin` implements it (feature `datafusion`); so can
/// a test double.
pub trait UdfPlugin: Send + Sync + 'static {
    /// The validated `describe` document of the current version.
    fn description(&self) -> Arc<Description>;
    /// The limits its calls run under.
    fn limits(&self) -> Limits;
    /// Calls `function` on `batch` (its columns are the arguments) under `options` (the
    /// query's cancel token and memory budget).
    fn call(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error>;
    /// Runs step `op` of aggregate `function` (see `plugrt::Plugin::aggregate`): `states`, a
    /// row per group; `rows`, a group column then values (`None` for `finish`).
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> Result<RecordBatch, Error>;
    /// Who it is, for plans shipped to other processes: its name, version and the SHA-256 of
    /// the bytes it was loaded from (and those bytes, if it kept them). See [`codec`].
    fn identity(&self) -> PluginIdentity;
}

/// How registered functions are named in SQL. A plugin aggregate named like one of
/// DataFusion's scalar functions (`concat_ws`) is shadowed by it in SQL under
/// [`Naming::Declared`]: reach it under its [`Naming::Prefixed`] name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Naming {
    /// As declared: `upper`. A later registration of the same name replaces the earlier one
    /// (DataFusion's rule), so plugins sharing function names need [`Naming::Prefixed`].
    #[default]
    Declared,
    /// `PLUGIN_FUNCTION`: `c_udf_upper`. A plugin name with `-` must then be quoted in SQL.
    Prefixed,
}

/// Registers every function `plugin` declares, scalar functions as scalar UDFs and aggregates
/// as aggregate UDFs of `ctx`, their calls' memory taken from `ctx`'s memory pool; returns the
/// SQL names (scalars first).
pub fn register(ctx: &SessionContext, plugin: Arc<dyn UdfPlugin>, naming: Naming) -> Vec<String> {
    let memory = ctx.runtime_env().memory_pool.clone();
    let mut names = Vec::new();
    for udf in udfs(plugin.clone(), naming, &memory) {
        names.push(udf.name().to_owned());
        ctx.register_udf(udf);
    }
    for udaf in udafs(plugin, naming, &memory) {
        names.push(udaf.name().to_owned());
        ctx.register_udaf(udaf);
    }
    names
}

fn volatility(v: Volatility) -> DfVolatility {
    match v {
        Volatility::Immutable => DfVolatility::Immutable,
        Volatility::Stable => DfVolatility::Stable,
        Volatility::Volatile => DfVolatility::Volatile,
    }
}

fn sql_name(naming: Naming, plugin: &str, function: &str) -> String {
    match naming {
        Naming::Declared => function.to_owned(),
        Naming::Prefixed => format!("{plugin}_{function}"),
    }
}

/// The aggregate UDFs of every aggregate `plugin` declares (contract 0.2.0), for a host that
/// registers them itself; their steps' memory is taken from `memory`. See the crate docs for
/// how a query drives them.
pub fn udafs(plugin: Arc<dyn UdfPlugin>, naming: Naming, memory: &Arc<dyn MemoryPool>) -> Vec<AggregateUDF> {
    let description = plugin.description();
    description
        .aggregates
        .iter()
        .map(|a| {
            let name = sql_name(naming, &description.name, &a.name);
            aggregate::PluginUdaf::udaf(&plugin, name, a, memory)
        })
        .collect()
}

/// A plugrt error as the query's error: a refused memory budget is DataFusion's
/// `ResourcesExhausted`, anything else `External` with the plugrt error as its source.
fn plugin_error(e: Error) -> DataFusionError {
    match e {
        Error::MemoryBudget { .. } => DataFusionError::ResourcesExhausted(e.to_string()),
        e => DataFusionError::External(Box::new(e)),
    }
}

/// The scalar UDFs of every scalar function `plugin` declares, for a host that registers them itself;
/// their calls' memory is taken from `memory` (give the session's pool, or an
/// `UnboundedMemoryPool` not to account for it).
pub fn udfs(plugin: Arc<dyn UdfPlugin>, naming: Naming, memory: &Arc<dyn MemoryPool>) -> Vec<ScalarUDF> {
    let description = plugin.description();
    description
        .functions
        .iter()
        .map(|f| {
            let name = sql_name(naming, &description.name, &f.name);
            PluginUdf::udf(&plugin, name, f, memory)
        })
        .collect()
}

/// Rows per plugin call for a batch of `rows` rows whose argument columns take `bytes` bytes
/// in memory: at most a quarter of the plugin's memory limit and half its output limit of
/// argument data per call (the guest holds its input and builds its output in the same memory),
/// and at least one row.
pub fn chunk_rows(rows: usize, bytes: usize, limits: &Limits) -> usize {
    if rows == 0 || bytes == 0 {
        return rows.max(1);
    }
    let budget = (limits.memory_bytes / 4).min(limits.output_bytes / 2).max(1);
    let per_row = bytes.div_ceil(rows).max(1);
    (budget / per_row).clamp(1, rows)
}

/// What a registered plugin function is, scalar or aggregate: its SQL name, the plugin and
/// function it calls, its DataFusion signature and return type, and the memory consumer its
/// calls take their reservations from. Two are equal when their names, origin and types are.
struct Origin {
    name: String,
    plugin_name: String,
    function: String,
    signature: Signature,
    returns: DataType,
    plugin: Arc<dyn UdfPlugin>,
    /// Empty; each call takes a new reservation of the same consumer from it.
    memory: MemoryReservation,
}

impl Origin {
    fn new(
        plugin: &Arc<dyn UdfPlugin>,
        name: String,
        memory: &Arc<dyn MemoryPool>,
        function: &str,
        args: &[DataType],
        returns: &DataType,
        declared: Volatility,
    ) -> Self {
        let plugin_name = plugin.description().name.clone();
        let consumer = format!("plugrt {plugin_name}.{function}");
        Origin {
            name,
            function: function.to_owned(),
            signature: Signature::exact(args.to_vec(), volatility(declared)),
            returns: returns.clone(),
            plugin: plugin.clone(),
            memory: MemoryConsumer::new(consumer).register(memory),
            plugin_name,
        }
    }

    fn names(&self) -> [&str; 3] {
        [&self.plugin_name, &self.function, &self.name]
    }

    fn key(&self) -> (&str, &str, &str, &Signature, &DataType) {
        (&self.name, &self.plugin_name, &self.function, &self.signature, &self.returns)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("name", &self.name)
            .field("plugin", &self.plugin_name)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Origin {}

impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Fails unless the plugin's answer has the types the function was registered with (`names`:
/// plugin, function, SQL name): a reload may have changed the plugin's signature under the
/// registration, and DataFusion plans (and the aggregate state stores index) with the
/// registered types. Compared exactly: the plugin hands over its answers as its declared
/// types, nested names included.
fn expect_types(names: [&str; 3], registered: &[&DataType], got: &[&DataType]) -> Result<()> {
    if got == registered {
        return Ok(());
    }
    let [plugin, function, name] = names;
    let list = |types: &[&DataType]| types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    Err(DataFusionError::Execution(format!(
        "plugin `{plugin}`, function `{function}`: answered ({}), but `{name}` was registered with ({}): the \
         plugin was reloaded with another signature; register its functions again",
        list(got),
        list(registered)
    )))
}

/// One declared scalar function of one plugin, as DataFusion sees it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PluginUdf {
    origin: Origin,
}

/// The share of the session's memory pool a batch's calls hold, emptied after each call.
struct CallReservation(MemoryReservation);

impl CallMemory for CallReservation {
    fn try_grow(&self, bytes: usize) -> std::result::Result<(), String> {
        self.0.try_grow(bytes).map_err(|e| match e {
            DataFusionError::ResourcesExhausted(message) => message,
            other => other.to_string(),
        })
    }
}

impl PluginUdf {
    /// The scalar UDF `name` calling `function` of `plugin`, its calls' memory from `memory`.
    fn udf(
        plugin: &Arc<dyn UdfPlugin>,
        name: String,
        f: &plugrt_contract::Signature,
        memory: &Arc<dyn MemoryPool>,
    ) -> ScalarUDF {
        let origin = Origin::new(plugin, name, memory, &f.name, &f.args, &f.returns, f.volatility);
        ScalarUDF::new_from_impl(PluginUdf { origin })
    }
}

impl ScalarUDFImpl for PluginUdf {
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn signature(&self) -> &Signature {
        &self.origin.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.origin.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Only literals (and at least one): one row in, one literal out.
        let literal = !args.args.is_empty() && args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if literal { 1 } else { args.number_rows };
        let columns: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let cancel = args.config_options.extensions.get::<QueryCancel>().map(QueryCancel::token);
        let output = self.call_chunked(&columns, rows, cancel)?;
        if literal && output.len() == 1 {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&output, 0)?));
        }
        Ok(ColumnarValue::Array(output))
    }
}

impl PluginUdf {
    /// Calls the plugin on `columns` (`rows` rows), in as many calls as its limits need.
    fn call_chunked(&self, columns: &[ArrayRef], rows: usize, cancel: Option<CancelToken>) -> Result<ArrayRef> {
        if rows == 0 {
            return Ok(new_empty_array(&self.origin.returns));
        }
        let bytes: usize = columns.iter().map(|c| c.get_array_memory_size()).sum();
        let step = chunk_rows(rows, bytes, &self.origin.plugin.limits());
        let mut outputs = Vec::with_capacity(rows.div_ceil(step));
        // One reservation for the batch's calls, emptied after each (calls run one by one).
        let reservation = Arc::new(CallReservation(self.origin.memory.new_empty()));
        let options = CallOptions { cancel, memory: Some(reservation.clone()) };
        for start in (0..rows).step_by(step) {
            let len = step.min(rows - start);
            let slice: Vec<ArrayRef> = columns.iter().map(|c| c.slice(start, len)).collect();
            let batch =
                plugrt_arrow_ipc::input_batch(&slice, len).map_err(|e| DataFusionError::External(Box::new(e)))?;
            let output = self.origin.plugin.call(&self.origin.function, &batch, &options).map_err(plugin_error);
            reservation.0.free();
            let output = output?;
            expect_types(self.origin.names(), &[&self.origin.returns], &[output.data_type()])?;
            outputs.push(output);
        }
        if outputs.len() == 1 {
            return Ok(outputs.pop().expect("one output"));
        }
        let parts: Vec<&dyn Array> = outputs.iter().map(|o| o.as_ref()).collect();
        Ok(arrow_select::concat::concat(&parts)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_within_the_limits_and_hold_a_row_at_least() {
        let limits = Limits { memory_bytes: 64 << 20, output_bytes: 16 << 20, ..Limits::default() };
        // 8 MiB of arguments over 1M rows: 8 bytes a row, 8 MiB budget -> all rows at once.
        assert_eq!(chunk_rows(1 << 20, 8 << 20, &limits), 1 << 20);
        // 64 MiB of arguments: a quarter... half the output limit is 8 MiB -> 8 chunks.
        assert_eq!(chunk_rows(1 << 20, 64 << 20, &limits), (1 << 20) / 8);
        // A row larger than the budget still goes alone.
        assert_eq!(chunk_rows(2, 100 << 20, &limits), 1);
        assert_eq!(chunk_rows(0, 0, &limits), 1);
    }
}
