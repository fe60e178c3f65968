//! A plugin's `describe` document and its type strings, on arbitrary text: parsing must never
//! panic (nor overflow the stack: arrow-rs's type parser recurses), and for every type that
//! passes the contract's allow-list the host must be able to build what it builds for
//! declared types (an empty array, an array of nulls) without panicking.
#![no_main]

use arrow_array::{Array, new_empty_array, new_null_array};
use arrow_schema::DataType;
use libfuzzer_sys::fuzz_target;
use plugrt_contract::{parse_description, parse_type};

fn exercise(data_type: &DataType) {
    assert_eq!(new_empty_array(data_type).len(), 0);
    let nulls = new_null_array(data_type, 3);
    assert_eq!(nulls.len(), 3);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(data_type) = parse_type(text) {
        exercise(&data_type);
    }
    if let Ok(description) = parse_description(text, &[]) {
        for f in &description.functions {
            f.args.iter().chain([&f.returns]).for_each(exercise);
        }
        for a in &description.aggregates {
            a.args.iter().chain([&a.returns]).for_each(exercise);
            a.state.iter().for_each(|f| exercise(f.data_type()));
        }
    }
});
