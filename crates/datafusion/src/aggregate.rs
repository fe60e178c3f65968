//! Plugin aggregates as DataFusion aggregate UDFs: a [`GroupsAccumulator`] that makes one guest
//! call per input batch whatever the number of groups, and an [`Accumulator`] for the
//! ungrouped case, both keeping every group's state as Arrow columns on the host.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array, new_null_array};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature};
use plugrt_contract::{AggregateOp, CallOptions};

use crate::{CallReservation, UdfPlugin, chunk_rows, plugin_error};

/// One declared aggregate of one plugin, as DataFusion sees it.
pub(crate) struct PluginUdaf<P> {
    pub(crate) name: String,
    pub(crate) plugin_name: String,
    pub(crate) function: String,
    pub(crate) signature: Signature,
    pub(crate) returns: DataType,
    pub(crate) state: Vec<FieldRef>,
    pub(crate) plugin: Arc<P>,
    /// Empty; each step takes a new reservation of the same consumer from it.
    pub(crate) memory: MemoryReservation,
}

impl<P> fmt::Debug for PluginUdaf<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginUdaf")
            .field("name", &self.name)
            .field("plugin", &self.plugin_name)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl<P> PartialEq for PluginUdaf<P> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.plugin_name == other.plugin_name
            && self.function == other.function
            && self.signature == other.signature
            && self.returns == other.returns
            && self.state == other.state
    }
}

impl<P> Eq for PluginUdaf<P> {}

impl<P> Hash for PluginUdaf<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (&self.name, &self.plugin_name, &self.function).hash(state);
    }
}

impl<P: UdfPlugin> PluginUdaf<P> {
    fn states(&self, distinct: bool) -> Result<GroupStates<P>> {
        if distinct {
            return Err(DataFusionError::NotImplemented(format!(
                "DISTINCT is not supported for plugin aggregates (`{}` of plugin `{}`)",
                self.function, self.plugin_name
            )));
        }
        Ok(GroupStates::new(self))
    }
}

impl<P: UdfPlugin> AggregateUDFImpl for PluginUdaf<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
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

/// Every group's state, as the guest last answered it: chunks of state rows (each step's
/// answer is one chunk) and, per group, where its current row is. Chunk 0 is one all-null row,
/// the state of a group that has seen no rows. Chunks no group points into any more are
/// dropped when the rows held exceed twice the live groups (plus a batch): the states are
/// then copied into one chunk.
struct GroupStates<P> {
    plugin: Arc<P>,
    function: String,
    schema: SchemaRef,
    returns: DataType,
    memory: MemoryReservation,
    chunks: Vec<RecordBatch>,
    /// (chunk, row) of each group's state.
    locations: Vec<(usize, usize)>,
    /// Rows in all chunks.
    held: usize,
    /// Per group: its row in the step being built, or `u32::MAX`; reset after each step.
    slot: Vec<u32>,
}

/// Rows beyond twice the live groups a state store keeps before it compacts.
const SLACK_ROWS: usize = 8192;

impl<P: UdfPlugin> GroupStates<P> {
    fn new(udaf: &PluginUdaf<P>) -> Self {
        let schema = Arc::new(Schema::new(udaf.state.clone()));
        let nulls = udaf.state.iter().map(|f| new_null_array(f.data_type(), 1)).collect();
        let null_row = RecordBatch::try_new(schema.clone(), nulls).expect("null columns match their fields");
        GroupStates {
            plugin: udaf.plugin.clone(),
            function: udaf.function.clone(),
            schema,
            returns: udaf.returns.clone(),
            memory: udaf.memory.new_empty(),
            chunks: vec![null_row],
            locations: Vec::new(),
            held: 1,
            slot: Vec::new(),
        }
    }

    fn resize(&mut self, groups: usize) {
        if groups > self.locations.len() {
            self.locations.resize(groups, (0, 0));
            self.slot.resize(groups, u32::MAX);
        }
    }

    /// The states of `groups`, in that order, as one batch.
    fn gather(&self, groups: impl ExactSizeIterator<Item = usize>) -> Result<RecordBatch> {
        let rows = groups.len();
        let indices: Vec<(usize, usize)> = groups.map(|g| self.locations[g]).collect();
        let columns = (0..self.schema.fields().len())
            .map(|c| {
                let parts: Vec<&dyn Array> = self.chunks.iter().map(|chunk| chunk.column(c).as_ref()).collect();
                Ok(arrow_select::interleave::interleave(&parts, &indices)?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }

    /// Makes `states` (row i: the new state of `groups[i]`) the current states of those groups.
    fn store(&mut self, groups: &[usize], states: RecordBatch) -> Result<()> {
        self.held += states.num_rows();
        let chunk = self.chunks.len();
        for (row, &g) in groups.iter().enumerate() {
            self.locations[g] = (chunk, row);
        }
        self.chunks.push(states);
        if self.held > 2 * self.locations.len() + SLACK_ROWS {
            let all = self.gather(0..self.locations.len())?;
            self.chunks.truncate(1);
            self.held = 1 + all.num_rows();
            for (row, location) in self.locations.iter_mut().enumerate() {
                *location = (1, row);
            }
            self.chunks.push(all);
        }
        Ok(())
    }

    /// The states of groups `0..n`, which are then forgotten (later groups move down by `n`).
    fn take_first(&mut self, n: usize) -> Result<RecordBatch> {
        let states = self.gather(0..n)?;
        self.locations.drain(..n);
        self.slot.truncate(self.locations.len());
        Ok(states)
    }

    fn size(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(RecordBatch::get_array_memory_size).sum();
        chunks + self.locations.capacity() * 16 + self.slot.capacity() * 4
    }

    /// One guest step under a fresh share of the session's memory pool.
    fn call(&self, op: AggregateOp, states: &RecordBatch, rows: Option<&RecordBatch>) -> Result<RecordBatch> {
        let reservation = Arc::new(CallReservation(self.memory.new_empty()));
        let options = CallOptions { cancel: None, memory: Some(reservation.clone()) };
        let answer = self.plugin.aggregate(&self.function, op, states, rows, &options).map_err(plugin_error);
        reservation.0.free();
        answer
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
        let (values, group_indices): (Vec<ArrayRef>, Vec<usize>) = match filter {
            None => (values.to_vec(), group_indices.to_vec()),
            Some(filter) => {
                let filter = arrow_select::filter::prep_null_mask_filter(filter);
                let values = values
                    .iter()
                    .map(|v| Ok(arrow_select::filter::filter(v, &filter)?))
                    .collect::<Result<Vec<ArrayRef>>>()?;
                let kept = group_indices.iter().zip(filter.values().iter()).filter(|(_, k)| *k).map(|(g, _)| *g);
                (values, kept.collect())
            }
        };
        let rows = group_indices.len();
        if rows == 0 {
            return Ok(());
        }
        let bytes: usize = values.iter().map(|v| v.get_array_memory_size()).sum();
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
            let states = self.gather(touched.iter().copied())?;
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
        let filter = filter.map(arrow_select::filter::prep_null_mask_filter);
        let bytes: usize = values.iter().map(|v| v.get_array_memory_size()).sum();
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
struct PluginGroupsAccumulator<P> {
    states: GroupStates<P>,
}

impl<P: UdfPlugin> GroupsAccumulator for PluginGroupsAccumulator<P> {
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
        let n = emitted(emit_to, self.states.locations.len());
        let states = self.states.take_first(n)?;
        self.states.finish(&states)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = emitted(emit_to, self.states.locations.len());
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
struct PluginAccumulator<P> {
    states: GroupStates<P>,
}

impl<P: UdfPlugin> fmt::Debug for PluginAccumulator<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginAccumulator").field("function", &self.states.function).finish_non_exhaustive()
    }
}

impl<P: UdfPlugin> Accumulator for PluginAccumulator<P> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.states.step(AggregateOp::Update, values, &vec![0; rows], None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.states.step(AggregateOp::Merge, states, &vec![0; rows], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let result = self.states.finish(&self.states.gather(std::iter::once(0))?)?;
        ScalarValue::try_from_array(&result, 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let states = self.states.gather(std::iter::once(0))?;
        states.columns().iter().map(|c| ScalarValue::try_from_array(c, 0)).collect()
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.states.size()
    }
}
