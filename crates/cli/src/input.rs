//! Argument batches: sample rows, literals from the command line, or a file (Arrow IPC, CSV,
//! Parquet), each column cast to the declared argument type.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::DataType;

/// Sample values for argument `arg`: row numbers (plus `arg`) in the argument's type, every
/// fifth row null. Strings cycle through a few words (one not ASCII).
pub fn sample(ty: &DataType, rows: usize, arg: usize) -> Result<ArrayRef, String> {
    let value = |i: usize| (i % 5 != 4).then_some(i + arg);
    let column: ArrayRef = match ty {
        DataType::Boolean => Arc::new(BooleanArray::from_iter((0..rows).map(|i| value(i).map(|v| v % 2 == 0)))),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let words = ["hello", "wörld", "plugrt", "arrow", "wasm"];
            Arc::new(StringArray::from_iter((0..rows).map(|i| value(i).map(|v| words[v % words.len()]))))
        }
        _ => Arc::new(Int64Array::from_iter((0..rows).map(|i| value(i).map(|v| v as i64)))),
    };
    to_type(&column, ty).map_err(|e| format!("cannot make sample values of type {ty} ({e}); pass --input FILE"))
}

/// One row from command-line literals, one per argument, parsed as the declared type
/// (`null` is a null).
pub fn literals(types: &[DataType], values: &[String]) -> Result<RecordBatch, String> {
    if types.len() != values.len() {
        return Err(format!("the function takes {} arguments, {} literals were given", types.len(), values.len()));
    }
    let columns = types
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (ty, text))| {
            let value = (text != "null").then_some(text.as_str());
            let column: ArrayRef = Arc::new(StringArray::from(vec![value]));
            to_type(&column, ty).map_err(|e| format!("argument {} (`{text}`) cannot be read as {ty}: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch(columns, 1)
}

/// `rows` sample rows for these argument types.
pub fn samples(types: &[DataType], rows: usize) -> Result<RecordBatch, String> {
    let columns = types.iter().enumerate().map(|(i, t)| sample(t, rows, i)).collect::<Result<Vec<_>, _>>()?;
    batch(columns, rows)
}

/// The rows of `path` (by extension: `.arrow`/`.arrows`/`.ipc` Arrow IPC file or stream,
/// `.csv` with a header row, `.parquet`): its first columns, one per argument, cast to the
/// argument types. Extra columns are ignored.
pub fn file(path: &Path, types: &[DataType]) -> Result<RecordBatch, String> {
    let shown = path.display();
    let table = read(path).map_err(|e| format!("cannot read input file {shown}: {e}"))?;
    if table.num_columns() < types.len() {
        return Err(format!(
            "input file {shown} has {} columns; the function takes {} arguments",
            table.num_columns(),
            types.len()
        ));
    }
    let columns = types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let name = table.schema().field(i).name().clone();
            to_type(table.column(i), ty)
                .map_err(|e| format!("input file {shown}: column `{name}` cannot be read as {ty}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch(columns, table.num_rows())
}

fn read(path: &Path) -> Result<RecordBatch, String> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let open = || File::open(path).map_err(|e| e.to_string());
    let batches: Vec<RecordBatch> = match extension.as_str() {
        "arrow" | "arrows" | "ipc" | "feather" => {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            if bytes.starts_with(b"ARROW1") {
                let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
                    .map_err(|e| e.to_string())?;
                reader.collect::<Result<_, _>>().map_err(|e| e.to_string())?
            } else {
                let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
                    .map_err(|e| e.to_string())?;
                reader.collect::<Result<_, _>>().map_err(|e| e.to_string())?
            }
        }
        "csv" => {
            let format = arrow_csv::reader::Format::default().with_header(true);
            let (schema, _) = format.infer_schema(open()?, Some(1000)).map_err(|e| e.to_string())?;
            let reader = arrow_csv::ReaderBuilder::new(Arc::new(schema))
                .with_format(format)
                .build(open()?)
                .map_err(|e| e.to_string())?;
            reader.collect::<Result<_, _>>().map_err(|e| e.to_string())?
        }
        "parquet" => {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)
                .and_then(|b| b.build())
                .map_err(|e| e.to_string())?;
            reader.collect::<Result<_, _>>().map_err(|e| e.to_string())?
        }
        other => {
            return Err(format!("unknown extension `.{other}`: use .arrow/.arrows/.ipc (Arrow IPC), .csv or .parquet"));
        }
    };
    let Some(first) = batches.first() else { return Err("it holds no record batch".into()) };
    arrow_select::concat::concat_batches(&first.schema(), &batches).map_err(|e| e.to_string())
}

fn to_type(column: &ArrayRef, ty: &DataType) -> Result<ArrayRef, String> {
    if column.data_type() == ty {
        return Ok(column.clone());
    }
    let cast = cast(column, ty).map_err(|e| e.to_string())?;
    // `cast` turns what it cannot parse into nulls: refuse that instead of calling with them.
    if cast.null_count() > column.null_count() {
        return Err("some values do not convert".into());
    }
    Ok(cast)
}

fn batch(columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch, String> {
    plugrt_arrow_ipc::input_batch(&columns, rows).map_err(|e| e.to_string())
}
