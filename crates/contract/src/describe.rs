//! The `describe` document: its types and the rules a loader checks it against
//! (docs/src/guest-contract.md).

use std::collections::HashSet;
use std::str::FromStr;

use arrow_schema::DataType;
use serde::Deserialize;

/// The contract version this loader speaks.
pub const CONTRACT: &str = "plugrt:udf@0.1.0";

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

/// A plugin's validated self-description.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The plugin's name.
    pub name: String,
    /// Its version text.
    pub version: String,
    /// Its functions, in declaration order.
    pub functions: Vec<Signature>,
    /// Capabilities it asked for (all granted, or loading failed).
    pub capabilities: Vec<String>,
}

impl Description {
    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&Signature> {
        self.functions.iter().find(|f| f.name == name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    contract: String,
    name: String,
    version: String,
    functions: Vec<FunctionDocument>,
    capabilities: Vec<String>,
}

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

fn data_type(text: &str, what: &str) -> Result<DataType, String> {
    DataType::from_str(text).map_err(|e| format!("{what}: unknown type `{text}`: {e}"))
}

/// Parses and checks a document; `granted` are the capabilities the host grants.
pub fn parse(text: &str, granted: &[String]) -> Result<Description, String> {
    let doc: Document = serde_json::from_str(text).map_err(|e| format!("describe document is not valid: {e}"))?;
    if doc.contract != CONTRACT {
        return Err(format!("built for contract `{}`, this host speaks `{CONTRACT}`", doc.contract));
    }
    if !valid_name(&doc.name) {
        return Err(format!("plugin name `{}` must be 1-64 characters of a-z, 0-9, _ and -", doc.name));
    }
    if doc.version.len() > 64 {
        return Err("version is longer than 64 characters".into());
    }
    if doc.functions.is_empty() {
        return Err("declares no function".into());
    }
    let ungranted: Vec<_> = doc.capabilities.iter().filter(|c| !granted.contains(c)).collect();
    if !ungranted.is_empty() {
        return Err(format!("asks for capabilities the host does not grant: {ungranted:?}"));
    }
    let mut seen = HashSet::new();
    let mut functions = Vec::with_capacity(doc.functions.len());
    for f in doc.functions {
        if !valid_name(&f.name) {
            return Err(format!("function name `{}` must be 1-64 characters of a-z, 0-9, _ and -", f.name));
        }
        if !seen.insert(f.name.clone()) {
            return Err(format!("function `{}` is declared twice", f.name));
        }
        let args = f
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| data_type(a, &format!("function `{}` arg{i}", f.name)))
            .collect::<Result<_, _>>()?;
        let returns = data_type(&f.returns, &format!("function `{}` return", f.name))?;
        functions.push(Signature { name: f.name, args, returns, volatility: f.volatility });
    }
    Ok(Description { name: doc.name, version: doc.version, functions, capabilities: doc.capabilities })
}

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
}
