//! Checking a batch against a function's declared arguments, before any guest runs.

use arrow_array::RecordBatch;

use crate::Signature;

/// Checks that `batch` has one column per declared argument, each of the declared type
/// (nested nullability included, as `DataType::equals_datatype` compares). The error says
/// which argument is wrong; it does not name the plugin (the loader's error does).
pub fn check_input(signature: &Signature, batch: &RecordBatch) -> Result<(), String> {
    if batch.num_columns() != signature.args.len() {
        return Err(format!("takes {} argument(s), got {}", signature.args.len(), batch.num_columns()));
    }
    for (i, (column, declared)) in batch.columns().iter().zip(&signature.args).enumerate() {
        if !column.data_type().equals_datatype(declared) {
            return Err(format!("arg{i} must be {declared}, got {}", column.data_type()));
        }
    }
    Ok(())
}
