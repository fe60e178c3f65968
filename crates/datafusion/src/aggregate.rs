//! Plugin aggregates as DataFusion aggregate UDFs: a [`GroupsAccumulator`] that makes one guest
//! call per input batch whatever the number of groups, and an [`Accumulator`] for the
//! ungrouped case, both keeping every group's state on the host (dense arrays for fixed-width
//! state fields, chunks of Arrow rows for any other).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array, make_array, new_null_array,
};
use arrow_buffer::{BooleanBuffer, MutableBuffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::memory_pool::{MemoryPool, MemoryReservation};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature};
use plugrt_contract::{AggregateOp, AggregateSignature, CallOptions};

use crate::{CallReservation, Origin, UdfPlugin, chunk_rows, expect_types, plugin_error};

/// One declared aggregate of one plugin, as DataFusion sees it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PluginUdaf {
    pub(crate) origin: Origin,
    pub(crate) state: Vec<FieldRef>,
}

impl PluginUdaf {
    /// The aggregate UDF `name` stepping aggregate `a` of `plugin`, its steps' memory from
    /// `memory`.
    pub(crate) fn udaf(
        plugin: &Arc<dyn UdfPlugin>,
        name: String,
        a: &AggregateSignature,
        memory: &Arc<dyn MemoryPool>,
    ) -> AggregateUDF {
        let origin = Origin::new(plugin, name, memory, &a.name, &a.args, &a.returns, a.volatility);
        AggregateUDF::new_from_impl(PluginUdaf { origin, state: a.state.clone() })
    }

    fn states(&self, distinct: bool) -> Result<GroupStates> {
        if distinct {
            return Err(DataFusionError::NotImplemented(format!(
                "DISTINCT is not supported for plugin aggregates (`{}` of plugin `{}`)",
                self.origin.function, self.origin.plugin_name
            )));
        }
        Ok(GroupStates::new(self))
    }
}

impl AggregateUDFImpl for PluginUdaf {
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn signature(&self) -> &Signature {
        &self.origin.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.origin.returns.clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let mut states = self.states(args.is_distinct)?;
        states.resize(1);
        Ok(Box::new(PluginAccumulator { states }))
    }

    /// The declared state fields, named `NAME[FIELD]` as DataFusion's own aggregates name theirs.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(self
            .state
            .iter()
            .map(|f| Arc::new(Field::new(format!("{}[{}]", args.name, f.name()), f.data_type().clone(), true)))
            .collect())
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(PluginGroupsAccumulator { states: self.states(args.is_distinct)? }))
    }
}

/// Every group's state, as the guest last answered it, and the plugin that steps them.
struct GroupStates {
    /// The plugin's and the SQL function's names, for errors.
    plugin_name: String,
    name: String,
    /// Fixed-width bytes of one group's state (`plugrt_contract::types::value_width`).
    state_width: usize,
    plugin: Arc<dyn UdfPlugin>,
    function: String,
    schema: SchemaRef,
    returns: DataType,
    memory: MemoryReservation,
    store: Store,
    /// Groups tracked (DataFusion numbers them `0..groups`).
    groups: usize,
    /// Per group: its row in the step being built, or `u32::MAX`; reset after each step.
    slot: Vec<u32>,
}

/// Where the states live.
enum Store {
    /// Every state field is a fixed-width primitive (`Int64`, `Float64`, timestamps,
    /// decimals, ...): one dense array of values and one of validity per field, a slot per
    /// group. Gathering a step's states and storing its answer are plain indexed copies.
    Dense(Vec<DenseField>),
    /// Any other state (strings, lists, booleans): each step's answer is kept as one chunk of
    /// rows and each group points at its current row; chunk 0 is one all-null row, the state
    /// of a group that has seen no rows. When the rows held exceed twice the live groups (plus
    /// a batch), or the bytes held twice those of the last compaction (plus
    /// [`SLACK_BYTES`]: a guest answering large states for few groups), the states are copied
    /// into one chunk and the old chunks dropped.
    Chunked { chunks: Vec<RecordBatch>, locations: Vec<(usize, usize)>, held: usize, bytes: Held },
}

/// One fixed-width state field of every group.
struct DenseField {
    data_type: DataType,
    width: usize,
    /// `width` bytes per group, little-endian as Arrow holds them.
    values: Vec<u8>,
    valid: Vec<bool>,
}

impl DenseField {
    fn gather(&self, groups: &[usize]) -> Result<ArrayRef> {
        let w = self.width;
        let mut values = MutableBuffer::with_capacity(groups.len() * w);
        for &g in groups {
            values.extend_from_slice(&self.values[g * w..(g + 1) * w]);
        }
        let nulls = NullBuffer::from(BooleanBuffer::collect_bool(groups.len(), |i| self.valid[groups[i]]));
        let data = ArrayData::builder(self.data_type.clone())
            .len(groups.len())
            .add_buffer(values.into())
            .nulls(Some(nulls).filter(|n| n.null_count() > 0))
            .build()?;
        Ok(make_array(data))
    }

    /// Row `j` of `column` becomes the state of group `groups[j]`.
    fn scatter(&mut self, groups: &[usize], column: &ArrayRef) {
        let w = self.width;
        let data = column.to_data();
        let src = &data.buffers()[0].as_slice()[data.offset() * w..];
        for (j, &g) in groups.iter().enumerate() {
            self.values[g * w..(g + 1) * w].copy_from_slice(&src[j * w..(j + 1) * w]);
            self.valid[g] = data.is_valid(j);
        }
    }
}

/// Rows beyond twice the live groups a chunked store keeps before it compacts.
const SLACK_ROWS: usize = 8192;

/// Bytes beyond twice those of its last compaction a chunked store keeps before it compacts
/// again: a store's superseded states stay within about twice its live ones plus this.
const SLACK_BYTES: usize = 64 << 20;

/// The bytes a chunked store's chunks hold, and what its last compaction kept.
#[derive(Default)]
struct Held {
    now: usize,
    compacted: usize,
}

impl GroupStates {
    fn new(udaf: &PluginUdaf) -> Self {
        let schema = Arc::new(Schema::new(udaf.state.clone()));
        let widths: Option<Vec<usize>> = udaf.state.iter().map(|f| f.data_type().primitive_width()).collect();
        let store = match widths {
            Some(widths) => Store::Dense(
                udaf.state
                    .iter()
                    .zip(widths)
                    .map(|(f, width)| DenseField {
                        data_type: f.data_type().clone(),
                        width,
                        values: Vec::new(),
                        valid: Vec::new(),
                    })
                    .collect(),
            ),
            None => {
                let nulls = udaf.state.iter().map(|f| new_null_array(f.data_type(), 1)).collect();
                let null_row = RecordBatch::try_new(schema.clone(), nulls).expect("null columns match their fields");
                let bytes = Held { now: null_row.get_array_memory_size(), compacted: 0 };
                Store::Chunked { chunks: vec![null_row], locations: Vec::new(), held: 1, bytes }
            }
        };
        GroupStates {
            plugin_name: udaf.origin.plugin_name.clone(),
            // Bounded by the contract: at most 16 fields of at most 64 KiB each.
            state_width: udaf.state.iter().map(|f| plugrt_contract::types::value_width(f.data_type())).sum(),
            name: udaf.origin.name.clone(),
            plugin: udaf.origin.plugin.clone(),
            function: udaf.origin.function.clone(),
            schema,
            returns: udaf.origin.returns.clone(),
            memory: udaf.origin.memory.new_empty(),
            store,
            groups: 0,
            slot: Vec::new(),
        }
    }

    fn resize(&mut self, groups: usize) {
        if groups <= self.groups {
            return;
        }
        match &mut self.store {
            Store::Dense(fields) => {
                for f in fields {
                    f.values.resize(groups * f.width, 0);
                    f.valid.resize(groups, false);
                }
            }
            Store::Chunked { locations, .. } => locations.resize(groups, (0, 0)),
        }
        self.slot.resize(groups, u32::MAX);
        self.groups = groups;
    }

    /// The states of `groups`, in that order, as one batch.
    fn gather(&self, groups: &[usize]) -> Result<RecordBatch> {
        let columns = match &self.store {
            Store::Dense(fields) => fields.iter().map(|f| f.gather(groups)).collect::<Result<Vec<_>>>()?,
            Store::Chunked { chunks, locations, .. } => {
                let indices: Vec<(usize, usize)> = groups.iter().map(|&g| locations[g]).collect();
                (0..self.schema.fields().len())
                    .map(|c| {
                        let parts: Vec<&dyn Array> = chunks.iter().map(|chunk| chunk.column(c).as_ref()).collect();
                        Ok(arrow_select::interleave::interleave(&parts, &indices)?)
                    })
                    .collect::<Result<Vec<ArrayRef>>>()?
            }
        };
        let options = RecordBatchOptions::new().with_row_count(Some(groups.len()));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }

    /// Makes `states` (row i: the new state of `groups[i]`) the current states of those groups.
    fn store(&mut self, groups: &[usize], states: RecordBatch) -> Result<()> {
        match &mut self.store {
            Store::Dense(fields) => {
                for (f, column) in fields.iter_mut().zip(states.columns()) {
                    f.scatter(groups, column);
                }
            }
            Store::Chunked { chunks, locations, held, bytes } => {
                *held += states.num_rows();
                bytes.now += states.get_array_memory_size();
                let chunk = chunks.len();
                for (row, &g) in groups.iter().enumerate() {
                    locations[g] = (chunk, row);
                }
                chunks.push(states);
                if *held > 2 * locations.len() + SLACK_ROWS || bytes.now > 2 * bytes.compacted + SLACK_BYTES {
                    self.compact()?;
                }
            }
        }
        Ok(())
    }

    /// A chunked store's current states, copied into one chunk; the old chunks are dropped.
    fn compact(&mut self) -> Result<()> {
        let all: Vec<usize> = (0..self.groups).collect();
        let compacted = self.gather(&all)?;
        if let Store::Chunked { chunks, locations, held, bytes } = &mut self.store {
            chunks.truncate(1);
            *held = 1 + compacted.num_rows();
            bytes.compacted = chunks[0].get_array_memory_size() + compacted.get_array_memory_size();
            bytes.now = bytes.compacted;
            for (row, location) in locations.iter_mut().enumerate() {
                *location = (1, row);
            }
            chunks.push(compacted);
        }
        Ok(())
    }

    /// The states of groups `0..n`, which are then forgotten (later groups move down by `n`).
    fn take_first(&mut self, n: usize) -> Result<RecordBatch> {
        let first: Vec<usize> = (0..n).collect();
        let states = self.gather(&first)?;
        match &mut self.store {
            Store::Dense(fields) => {
                for f in fields {
                    f.values.drain(..n * f.width);
                    f.valid.drain(..n);
                }
            }
            Store::Chunked { locations, .. } => {
                locations.drain(..n);
            }
        }
        self.groups -= n;
        self.slot.truncate(self.groups);
        Ok(states)
    }

    fn size(&self) -> usize {
        let store = match &self.store {
            Store::Dense(fields) => fields.iter().map(|f| f.values.capacity() + f.valid.capacity()).sum(),
            Store::Chunked { chunks, locations, .. } => {
                chunks.iter().map(RecordBatch::get_array_memory_size).sum::<usize>() + locations.capacity() * 16
            }
        };
        store + self.slot.capacity() * 4
    }

    fn names(&self) -> [&str; 3] {
        [&self.plugin_name, &self.function, &self.name]
    }

    /// One guest step under a fresh share of the session's memory pool.
    fn call(&self, op: AggregateOp, states: &RecordBatch, rows: Option<&RecordBatch>) -> Result<RecordBatch> {
        let reservation = Arc::new(CallReservation(self.memory.new_empty()));
        let options = CallOptions { cancel: None, memory: Some(reservation.clone()) };
        let answer = self.plugin.aggregate(&self.function, op, states, rows, &options).map_err(plugin_error);
        reservation.0.free();
        let answer = answer?;
        // The plugin checked the answer against its current declaration; the store relies
        // on the registered one (a reload may have changed it).
        let registered: Vec<&DataType> = match op {
            AggregateOp::Finish => vec![&self.returns],
            AggregateOp::Update | AggregateOp::Merge => self.schema.fields().iter().map(|f| f.data_type()).collect(),
        };
        let got: Vec<&DataType> = answer.columns().iter().map(|c| c.data_type()).collect();
        expect_types(self.names(), &registered, &got)?;
        Ok(answer)
    }

    /// `update` or `merge` for `values` (arguments or partial states), row i going to group
    /// `group_indices[i]`; rows the filter does not select are skipped. One guest call per
    /// batch, unless the plugin's limits need the batch split by rows.
    fn step(
        &mut self,
        op: AggregateOp,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) -> Result<()> {
        self.resize(total_groups);
        // Without a filter, the caller's columns and group indices as they are (no copy).
        let (values, group_indices): (Cow<'_, [ArrayRef]>, Cow<'_, [usize]>) = match filter {
            None => (Cow::Borrowed(values), Cow::Borrowed(group_indices)),
            Some(filter) => {
                let filter = selected(filter);
                let values = values
                    .iter()
                    .map(|v| Ok(arrow_select::filter::filter(v, &filter)?))
                    .collect::<Result<Vec<ArrayRef>>>()?;
                let kept = group_indices.iter().zip(filter.values().iter()).filter(|(_, k)| *k).map(|(g, _)| *g);
                (Cow::Owned(values), Cow::Owned(kept.collect()))
            }
        };
        let rows = group_indices.len();
        if rows == 0 {
            return Ok(());
        }
        // The rows' arguments, and the states built or gathered for as many groups.
        let bytes = values.iter().map(|v| v.get_array_memory_size()).sum::<usize>() + self.state_width * rows;
        let step = chunk_rows(rows, bytes, &self.plugin.limits());
        for start in (0..rows).step_by(step) {
            let len = step.min(rows - start);
            // The groups this chunk touches, numbered in order of first appearance.
            let mut touched = Vec::new();
            let local: UInt32Array = group_indices[start..start + len]
                .iter()
                .map(|&g| {
                    if self.slot[g] == u32::MAX {
                        self.slot[g] = touched.len() as u32;
                        touched.push(g);
                    }
                    self.slot[g]
                })
                .collect();
            for &g in &touched {
                self.slot[g] = u32::MAX;
            }
            let states = self.gather(&touched)?;
            let slices: Vec<ArrayRef> = values.iter().map(|v| v.slice(start, len)).collect();
            let batch = rows_batch(local, &slices)?;
            let answer = self.call(op, &states, Some(&batch))?;
            self.store(&touched, answer)?;
        }
        Ok(())
    }

    /// Each row as a group of its own, updated from a null state: the states DataFusion passes
    /// on when it skips partial aggregation (too many groups for it to pay). Rows the filter
    /// drops keep a null state. One `update` call per batch, unless the limits split it.
    fn convert(&self, values: &[ArrayRef], filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let rows = values.first().map_or(0, |v| v.len());
        let filter = filter.map(selected);
        // The rows' arguments, and the states built or gathered for as many groups.
        let bytes = values.iter().map(|v| v.get_array_memory_size()).sum::<usize>() + self.state_width * rows;
        let step = chunk_rows(rows, bytes, &self.plugin.limits());
        let mut parts: Vec<RecordBatch> = Vec::with_capacity(rows.div_ceil(step));
        for start in (0..rows).step_by(step) {
            let len = step.min(rows - start);
            let nulls = self.schema.fields().iter().map(|f| new_null_array(f.data_type(), len)).collect();
            let states = RecordBatch::try_new(self.schema.clone(), nulls)?;
            let mut slices: Vec<ArrayRef> = values.iter().map(|v| v.slice(start, len)).collect();
            let mut groups: UInt32Array = (0..len as u32).collect();
            if let Some(filter) = &filter {
                let keep = filter.slice(start, len);
                groups = arrow_select::filter::filter(&groups, &keep)?
                    .as_any()
                    .downcast_ref::<UInt32Array>()
                    .expect("a filtered UInt32Array")
                    .clone();
                slices = slices.iter().map(|v| Ok(arrow_select::filter::filter(v, &keep)?)).collect::<Result<_>>()?;
            }
            parts.push(if groups.is_empty() {
                states
            } else {
                self.call(AggregateOp::Update, &states, Some(&rows_batch(groups, &slices)?))?
            });
        }
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one part").columns().to_vec());
        }
        Ok(arrow_select::concat::concat_batches(&self.schema, &parts)?.columns().to_vec())
    }

    /// The results of `states`, in as many `finish` calls as the plugin's limits need.
    fn finish(&self, states: &RecordBatch) -> Result<ArrayRef> {
        let groups = states.num_rows();
        if groups == 0 {
            return Ok(arrow_array::new_empty_array(&self.returns));
        }
        let step = chunk_rows(groups, states.get_array_memory_size(), &self.plugin.limits());
        let mut parts = Vec::with_capacity(groups.div_ceil(step));
        for start in (0..groups).step_by(step) {
            let slice = states.slice(start, step.min(groups - start));
            parts.push(self.call(AggregateOp::Finish, &slice, None)?.column(0).clone());
        }
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one part"));
        }
        let parts: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
        Ok(arrow_select::concat::concat(&parts)?)
    }
}

/// The rows a `FILTER` clause keeps: null counts as false.
fn selected(filter: &BooleanArray) -> BooleanArray {
    if filter.null_count() > 0 { arrow_select::filter::prep_null_mask_filter(filter) } else { filter.clone() }
}

/// A step's rows: the group column, then `values` (`arg0`, `arg1`, ...).
fn rows_batch(groups: UInt32Array, values: &[ArrayRef]) -> Result<RecordBatch> {
    let mut fields = vec![Field::new(plugrt_contract::GROUP_COLUMN, DataType::UInt32, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(groups)];
    for (i, v) in values.iter().enumerate() {
        fields.push(Field::new(format!("arg{i}"), v.data_type().clone(), true));
        columns.push(v.clone());
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn emitted(emit_to: EmitTo, groups: usize) -> usize {
    match emit_to {
        EmitTo::All => groups,
        EmitTo::First(n) => n.min(groups),
    }
}

/// The grouped accumulator: one guest call per batch of rows (`update`) or of partial states
/// (`merge`), whatever the number of groups.
struct PluginGroupsAccumulator {
    states: GroupStates,
}

impl GroupsAccumulator for PluginGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.step(AggregateOp::Update, values, group_indices, opt_filter, total_num_groups)
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.states.step(AggregateOp::Merge, values, group_indices, None, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = emitted(emit_to, self.states.groups);
        let states = self.states.take_first(n)?;
        self.states.finish(&states)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = emitted(emit_to, self.states.groups);
        Ok(self.states.take_first(n)?.columns().to_vec())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        self.states.convert(values, opt_filter)
    }

    fn size(&self) -> usize {
        self.states.size()
    }
}

/// The ungrouped accumulator: one group, the same steps.
struct PluginAccumulator {
    states: GroupStates,
}

impl fmt::Debug for PluginAccumulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginAccumulator").field("function", &self.states.function).finish_non_exhaustive()
    }
}

impl Accumulator for PluginAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.states.step(AggregateOp::Update, values, &vec![0; rows], None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.states.step(AggregateOp::Merge, states, &vec![0; rows], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let result = self.states.finish(&self.states.gather(&[0])?)?;
        ScalarValue::try_from_array(&result, 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let states = self.states.gather(&[0])?;
        states.columns().iter().map(|c| ScalarValue::try_from_array(c, 0)).collect()
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.states.size()
    }
}

#[cfg(test)]
mod tests {
    //! The host's state store against a plugin written in Rust: `sum` (an Int64 state: the
    //! dense store) and `cat` (a Utf8 state: the chunked store), checked against sums and
    //! concatenations computed here, across compactions, partial emits, merges and filters.

    use std::collections::BTreeMap;

    use datafusion::execution::memory_pool::UnboundedMemoryPool;

    use super::*;
    use crate::fake::{Fake, column, description, fold, texts};

    fn accumulator(function: &str) -> PluginGroupsAccumulator {
        let d = description();
        let a = d.aggregate(function).unwrap();
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        let plugin: Arc<dyn UdfPlugin> = Arc::new(Fake::new("1"));
        let origin = Origin::new(&plugin, a.name.clone(), &pool, &a.name, &a.args, &a.returns, a.volatility);
        let udaf = PluginUdaf { origin, state: a.state.clone() };
        PluginGroupsAccumulator { states: udaf.states(false).unwrap() }
    }

    const GROUPS: usize = 250;

    /// 300 batches of 100 rows; row `i` goes to group `i * 7 % 250` (each batch touches 100
    /// groups, spread out), every 13th row is filtered out; returns what each group must hold.
    fn feed(function: &str, acc: &mut PluginGroupsAccumulator) -> BTreeMap<usize, String> {
        let mut want: BTreeMap<usize, String> = BTreeMap::new();
        for batch in 0..300usize {
            let rows: Vec<usize> = (batch * 100..batch * 100 + 100).collect();
            let groups: Vec<usize> = rows.iter().map(|i| i * 7 % GROUPS).collect();
            let keep: BooleanArray = rows.iter().map(|i| Some(i % 13 != 0)).collect();
            let values: Vec<Option<String>> = rows.iter().map(|i| Some((i % 50).to_string())).collect();
            for ((i, g), v) in rows.iter().zip(&groups).zip(&values) {
                if i % 13 != 0 {
                    let prior = want.remove(g);
                    want.insert(*g, fold(function, prior, v.as_deref().unwrap()));
                }
            }
            acc.update_batch(&[column(function, values)], &groups, Some(&keep), GROUPS).unwrap();
        }
        want
    }

    #[test]
    fn states_survive_compaction_partial_emits_and_merges_in_both_stores() {
        for function in ["sum", "cat"] {
            let mut acc = accumulator(function);
            assert_eq!(matches!(acc.states.store, Store::Dense(_)), function == "sum");
            let want = feed(function, &mut acc);
            // Ten groups first, then the rest: the rest move down by ten.
            let first = texts(&acc.evaluate(EmitTo::First(10)).unwrap());
            let rest = texts(&acc.evaluate(EmitTo::All).unwrap());
            let all: Vec<Option<String>> = first.into_iter().chain(rest).collect();
            let expected: Vec<Option<String>> = (0..GROUPS).map(|g| want.get(&g).cloned()).collect();
            assert_eq!(all, expected, "{function}");

            // Partial states, merged into another accumulator, give the same results.
            let mut partial = accumulator(function);
            feed(function, &mut partial);
            let states = partial.state(EmitTo::All).unwrap();
            let mut merged = accumulator(function);
            let groups: Vec<usize> = (0..GROUPS).collect();
            merged.merge_batch(&states, &groups, GROUPS).unwrap();
            assert_eq!(texts(&merged.evaluate(EmitTo::All).unwrap()), expected, "{function}: merged");
        }
    }

    /// A guest answering large states for one group: each step's answer supersedes the last,
    /// and what the store holds stays within twice the live state plus the slack, not the sum
    /// of every answer (5,050 x 64 KiB = 316 MiB here).
    #[test]
    fn superseded_large_states_are_dropped_by_their_bytes() {
        let mut acc = accumulator("cat");
        let value = "x".repeat(64 << 10);
        for _ in 0..100 {
            acc.update_batch(&[column("cat", vec![Some(value.clone())])], &[0], None, 1).unwrap();
        }
        let live = 100 * (value.len() + 1);
        let held = acc.size();
        assert!(held < 2 * live + SLACK_BYTES + (1 << 20), "holds {held} bytes for a live state of {live}");
        let result = texts(&acc.evaluate(EmitTo::All).unwrap());
        assert_eq!(result[0].as_ref().map(String::len), Some(live - 1));
    }

    #[test]
    fn rows_become_states_of_their_own_and_filtered_rows_stay_null() {
        for function in ["sum", "cat"] {
            let acc = accumulator(function);
            let values = column(function, vec![Some("4".into()), None, Some("6".into())]);
            let keep = BooleanArray::from(vec![true, true, false]);
            let states = acc.convert_to_state(&[values], Some(&keep)).unwrap();
            assert_eq!(texts(&states[0]), vec![Some("4".to_owned()), None, None], "{function}");
        }
    }
}
