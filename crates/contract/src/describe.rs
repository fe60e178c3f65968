//! The `describe` document: its types and the rules a loader checks it against
//! (docs/src/guest-contract.md).

use std::collections::HashSet;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use serde::Deserialize;

/// The newest contract version the loaders speak (aggregates need it).
pub const CONTRACT: &str = "plugrt:udf@0.2.0";

/// Every contract version the loaders accept, oldest first. A 0.1.0 plugin declares scalar
/// functions only; 0.2.0 adds aggregates and changes nothing else.
pub const CONTRACTS: [&str; 2] = ["plugrt:udf@0.1.0", CONTRACT];

/// How a function's result depends on its inputs, as DataFusion distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Volatility {
    /// Same inputs, same output, always.
    Immutable,
    /// Same inputs, same output within one query.
    Stable,
    /// May differ on every call.
    Volatile,
}

/// One function a plugin declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Its name, as passed to `call`.
    pub name: String,
    /// Argument types, in order.
    pub args: Vec<DataType>,
    /// Return type.
    pub returns: DataType,
    /// Volatility.
    pub volatility: Volatility,
}

/// One aggregate function a plugin declares (contract 0.2.0): what it takes, what it
/// returns, and the state each group carries between the host's whole-batch operations.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSignature {
    /// Its name, as passed to `aggregate`.
    pub name: String,
    /// Argument types, in order.
    pub args: Vec<DataType>,
    /// Type of each group's result.
    pub returns: DataType,
    /// The state of one group, a column per field, in order. Every field is nullable: a group
    /// that has seen no rows yet has null in every field.
    pub state: Vec<FieldRef>,
    /// Volatility.
    pub volatility: Volatility,
}

impl AggregateSignature {
    /// The state's types, in order.
    pub fn state_types(&self) -> Vec<DataType> {
        self.state.iter().map(|f| f.data_type().clone()).collect()
    }
}

/// A plugin's validated self-description.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The contract version it was built for (one of [`CONTRACTS`]).
    pub contract: String,
    /// The plugin's name.
    pub name: String,
    /// Its version text.
    pub version: String,
    /// Its scalar functions, in declaration order.
    pub functions: Vec<Signature>,
    /// Its aggregate functions, in declaration order (always empty for contract 0.1.0).
    pub aggregates: Vec<AggregateSignature>,
    /// Capabilities it asked for (all granted, or loading failed).
    pub capabilities: Vec<String>,
}

impl Description {
    /// The scalar function called `name`.
    pub fn function(&self, name: &str) -> Option<&Signature> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The aggregate function called `name`.
    pub fn aggregate(&self, name: &str) -> Option<&AggregateSignature> {
        self.aggregates.iter().find(|f| f.name == name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    contract: String,
    name: String,
    version: String,
    functions: Vec<FunctionDocument>,
    #[serde(default)]
    aggregates: Option<Vec<AggregateDocument>>,
    capabilities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateDocument {
    name: String,
    args: Vec<String>,
    returns: String,
    state: Vec<StateFieldDocument>,
    volatility: Volatility,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFieldDocument {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
}

/// State fields an aggregate may declare.
pub const MAX_STATE_FIELDS: usize = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionDocument {
    name: String,
    args: Vec<String>,
    returns: String,
    volatility: Volatility,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn data_type(text: &str, what: impl FnOnce() -> String) -> Result<DataType, String> {
    crate::types::parse_type(text).map_err(|e| format!("{}: {e}", what()))
}

/// Longest `describe` document, in bytes; checked before it is parsed.
pub const MAX_DOCUMENT: usize = 256 << 10;
/// Most functions (scalar and aggregate together) one plugin may declare.
pub const MAX_FUNCTIONS: usize = 1024;
/// Most arguments one function may take.
pub const MAX_ARGS: usize = 64;
/// Most capabilities a plugin may ask for.
pub const MAX_CAPABILITIES: usize = 16;

/// Parses and checks a document; `granted` are the capabilities the host grants. Its size is
/// bounded before JSON parsing ([`MAX_DOCUMENT`]), its counts before any type is parsed
/// ([`MAX_FUNCTIONS`], [`MAX_ARGS`], [`MAX_CAPABILITIES`], [`MAX_STATE_FIELDS`]), and every
/// type through the allow-list of [`crate::types`].
pub fn parse(text: &str, granted: &[String]) -> Result<Description, String> {
    if text.len() > MAX_DOCUMENT {
        return Err(format!("describe document of {} bytes; at most {MAX_DOCUMENT}", text.len()));
    }
    let doc: Document = serde_json::from_str(text).map_err(|e| format!("describe document is not valid: {e}"))?;
    if !CONTRACTS.contains(&doc.contract.as_str()) {
        return Err(format!("built for contract `{}`, this host speaks {}", doc.contract, CONTRACTS.join(" and ")));
    }
    if doc.aggregates.is_some() && doc.contract == CONTRACTS[0] {
        return Err(format!("declares `aggregates`, which need contract `{CONTRACT}` (it says `{}`)", doc.contract));
    }
    if !valid_name(&doc.name) {
        return Err(format!("plugin name `{}` must be 1-64 characters of a-z, 0-9, _ and -", doc.name));
    }
    if doc.version.len() > 64 {
        return Err("version is longer than 64 characters".into());
    }
    let aggregate_docs = doc.aggregates.unwrap_or_default();
    if doc.functions.is_empty() && aggregate_docs.is_empty() {
        return Err("declares no function".into());
    }
    let declared = doc.functions.len() + aggregate_docs.len();
    if declared > MAX_FUNCTIONS {
        return Err(format!("declares {declared} functions; at most {MAX_FUNCTIONS}"));
    }
    if doc.capabilities.len() > MAX_CAPABILITIES {
        return Err(format!("asks for {} capabilities; at most {MAX_CAPABILITIES}", doc.capabilities.len()));
    }
    let ungranted: Vec<_> = doc.capabilities.iter().filter(|c| !granted.contains(c)).collect();
    if !ungranted.is_empty() {
        return Err(format!("asks for capabilities the host does not grant: {ungranted:?}"));
    }
    // One namespace for scalar and aggregate functions: SQL names must not depend on the kind.
    let mut seen = HashSet::new();
    let mut declare = |name: &str| {
        if !valid_name(name) {
            return Err(format!("function name `{name}` must be 1-64 characters of a-z, 0-9, _ and -"));
        }
        if !seen.insert(name.to_owned()) {
            return Err(format!("function `{name}` is declared twice"));
        }
        Ok(())
    };
    let types = |name: &str, args: &[String]| -> Result<Vec<DataType>, String> {
        if args.len() > MAX_ARGS {
            return Err(format!("`{name}` takes {} arguments; at most {MAX_ARGS}", args.len()));
        }
        args.iter().enumerate().map(|(i, a)| data_type(a, || format!("argument {} of `{name}`", i + 1))).collect()
    };
    let mut functions = Vec::with_capacity(doc.functions.len());
    for f in doc.functions {
        declare(&f.name)?;
        let args = types(&f.name, &f.args)?;
        let returns = data_type(&f.returns, || format!("return type of `{}`", f.name))?;
        functions.push(Signature { name: f.name, args, returns, volatility: f.volatility });
    }
    let mut aggregates = Vec::with_capacity(aggregate_docs.len());
    for a in aggregate_docs {
        declare(&a.name)?;
        // A step's rows are counted from its columns: an aggregate of no argument would have none.
        if a.args.is_empty() {
            return Err(format!("aggregate `{}` must take at least one argument", a.name));
        }
        let args = types(&a.name, &a.args)?;
        let returns = data_type(&a.returns, || format!("return type of aggregate `{}`", a.name))?;
        if a.state.is_empty() || a.state.len() > MAX_STATE_FIELDS {
            return Err(format!("aggregate `{}` must declare 1 to {MAX_STATE_FIELDS} state fields", a.name));
        }
        let mut names = HashSet::new();
        let mut state = Vec::with_capacity(a.state.len());
        for field in a.state {
            if !valid_name(&field.name) || field.name == GROUP_COLUMN {
                return Err(format!(
                    "aggregate `{}` state field `{}` must be 1-64 characters of a-z, 0-9, _ and -, and not `{GROUP_COLUMN}`",
                    a.name, field.name
                ));
            }
            if !names.insert(field.name.clone()) {
                return Err(format!("aggregate `{}` declares state field `{}` twice", a.name, field.name));
            }
            let data_type =
                data_type(&field.data_type, || format!("state field `{}` of aggregate `{}`", field.name, a.name))?;
            state.push(Arc::new(Field::new(field.name, data_type, true)));
        }
        aggregates.push(AggregateSignature { name: a.name, args, returns, state, volatility: a.volatility });
    }
    Ok(Description {
        contract: doc.contract,
        name: doc.name,
        version: doc.version,
        functions,
        aggregates,
        capabilities: doc.capabilities,
    })
}

/// The name of the first column of an aggregate operation's `rows` batch: each row's group,
/// as a row index of the `states` batch.
pub const GROUP_COLUMN: &str = "group";

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"contract":"plugrt:udf@0.1.0","name":"demo","version":"1.0","functions":[
        {"name":"add_one","args":["Int64"],"returns":"Int64","volatility":"immutable"},
        {"name":"tags","args":["Utf8","List(Int32)"],"returns":"Timestamp(Microsecond, None)","volatility":"volatile"}],
        "capabilities":[]}"#;

    #[test]
    fn a_good_document_parses() {
        let d = parse(GOOD, &[]).unwrap();
        assert_eq!(d.name, "demo");
        assert_eq!(d.function("add_one").unwrap().args, vec![DataType::Int64]);
        assert_eq!(d.function("tags").unwrap().volatility, Volatility::Volatile);
        assert!(matches!(d.function("tags").unwrap().args[1], DataType::List(_)));
    }

    #[test]
    fn each_rule_is_enforced_with_a_clear_message() {
        let cases = [
            (GOOD.replace("0.1.0", "9.9.9"), "this host speaks"),
            (GOOD.replace(r#""capabilities""#, r#""aggregates":[],"capabilities""#), "need contract"),
            (GOOD.replace(r#""demo""#, r#""Demo!""#), "plugin name"),
            (GOOD.replace("\"Int64\"],", "\"Int65\"],"), "unknown type `Int65`"),
            (GOOD.replace("tags", "add_one"), "declared twice"),
            (GOOD.replace(r#""capabilities":[]"#, r#""capabilities":["wasi:filesystem"]"#), "does not grant"),
            (GOOD.replace("immutable", "sometimes"), "not valid"),
            (GOOD.replace(r#""version":"1.0","#, ""), "not valid"),
            ("this is not json".to_owned(), "not valid"),
        ];
        for (doc, needle) in cases {
            let err = parse(&doc, &[]).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn size_and_counts_are_bounded_before_types_are_parsed() {
        let huge =
            GOOD.replace(r#""version":"1.0""#, &format!(r#""version":"1.0","pad":"{}""#, "x".repeat(MAX_DOCUMENT)));
        assert!(parse(&huge, &[]).unwrap_err().contains("describe document of"));
        let deep = format!("{}Int64{}", "List(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&GOOD.replace(r#"["Int64"]"#, &format!(r#"["Int64","{deep}"]"#)), &[]).unwrap_err();
        assert!(err.starts_with("argument 2 of `add_one`: type text of"), "{err}");
        let nested = format!("{}Int64{}", "List(".repeat(40), ")".repeat(40));
        let err = parse(&GOOD.replace(r#""returns":"Int64""#, &format!(r#""returns":"{nested}""#)), &[]).unwrap_err();
        assert_eq!(err, "return type of `add_one`: type nests 41 levels; at most 16");
        let args = vec!["\"Int8\""; MAX_ARGS + 1].join(",");
        let err = parse(&GOOD.replace(r#"["Int64"]"#, &format!("[{args}]")), &[]).unwrap_err();
        assert!(err.contains("takes 65 arguments; at most 64"), "{err}");
        let one = r#"{"name":"fNUM","args":[],"returns":"Int64","volatility":"immutable"}"#;
        let many: Vec<String> = (0..=MAX_FUNCTIONS).map(|i| one.replace("NUM", &i.to_string())).collect();
        let doc = format!(
            r#"{{"contract":"plugrt:udf@0.1.0","name":"d","version":"1","functions":[{}],"capabilities":[]}}"#,
            many.join(",")
        );
        assert!(parse(&doc, &[]).unwrap_err().contains("declares 1025 functions"));
        let dictionary = GOOD.replace(r#"["Int64"]"#, r#"["Dictionary(Utf8, Utf8)"]"#);
        assert!(parse(&dictionary, &[]).unwrap_err().starts_with("argument 1 of `add_one`: type Dictionary"));
    }

    const AGGREGATES: &str = r#"{"contract":"plugrt:udf@0.2.0","name":"agg","version":"1","functions":[],
        "aggregates":[{"name":"avg_f64","args":["Float64"],"returns":"Float64",
        "state":[{"name":"sum","type":"Float64"},{"name":"count","type":"Int64"}],"volatility":"immutable"}],
        "capabilities":[]}"#;

    #[test]
    fn a_0_2_0_document_declares_aggregates_with_nullable_state_fields() {
        let d = parse(AGGREGATES, &[]).unwrap();
        assert!(d.functions.is_empty());
        let avg = d.aggregate("avg_f64").unwrap();
        assert_eq!(avg.state_types(), vec![DataType::Float64, DataType::Int64]);
        assert!(avg.state.iter().all(|f| f.is_nullable()));
        assert_eq!(avg.state[1].name(), "count");
        // A 0.1.0 document (no `aggregates`) still parses under the 0.2.0 host.
        assert_eq!(parse(GOOD, &[]).unwrap().contract, "plugrt:udf@0.1.0");
    }

    #[test]
    fn aggregate_rules_are_enforced_with_a_clear_message() {
        let cases = [
            (AGGREGATES.replace(r#""state":[{"name":"sum","type":"Float64"},{"name":"count","type":"Int64"}]"#, r#""state":[]"#), "1 to 16 state fields"),
            (AGGREGATES.replace(r#""name":"count""#, r#""name":"sum""#), "state field `sum` twice"),
            (AGGREGATES.replace(r#""name":"count""#, r#""name":"group""#), "not `group`"),
            (AGGREGATES.replace(r#""type":"Int64""#, r#""type":"Int99""#), "unknown type `Int99`"),
            (AGGREGATES.replace(r#""args":["Float64"]"#, r#""args":[]"#), "at least one argument"),
            (AGGREGATES.replace(r#""functions":[]"#, r#""functions":[{"name":"avg_f64","args":[],"returns":"Int64","volatility":"stable"}]"#), "declared twice"),
            (AGGREGATES.replace(r#""aggregates":[{"#, r#""aggregates":[{"init":1,"#), "not valid"),
            (
                r#"{"contract":"plugrt:udf@0.2.0","name":"agg","version":"1","functions":[],"aggregates":[],"capabilities":[]}"#
                    .to_owned(),
                "declares no function",
            ),
        ];
        for (doc, needle) in cases {
            let err = parse(&doc, &[]).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }
}
