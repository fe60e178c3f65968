//! The hostile suite (`fixtures/hostile/`), in every flavour this build has: each plugin
//! attacks the host through what it declares or answers. Each attack must end in a typed error
//! naming the plugin (and the function, for a call), with the runtime still serving a good
//! plugin afterwards and no instance, lease or permit left behind.

use plugrt::{Error, Flavour, Runtime};

use crate::common::{fixture, flavours, one_int, runtime};

/// After an attack: the runtime holds no permit but those of the plugins still loaded (none
/// here, when pre-warm is off), and a good plugin loads and answers.
fn still_serving(runtime: &Runtime, flavour: Flavour, what: &str) {
    let probe = runtime.load(&fixture(flavour, "probe")).unwrap_or_else(|e| panic!("{flavour} after {what}: {e}"));
    let out = probe.call("calls", &crate::common::no_args(1)).unwrap_or_else(|e| panic!("{flavour} after {what}: {e}"));
    assert_eq!(out.len(), 1, "{flavour} after {what}");
    assert_eq!(probe.metrics().status.leased, 0, "{flavour} after {what}: a lease leaked");
}

/// Loads the hostile fixture `name` in every flavour; returns each load error's message.
fn refused_at_load(name: &str) -> Vec<String> {
    let mut messages = Vec::new();
    for flavour in flavours() {
        let runtime = runtime();
        let err = runtime.load(&fixture(flavour, name)).map(|p| p.name()).unwrap_err();
        let Error::Load { message, .. } = &err else { panic!("{flavour} {name}: not a load error: {err}") };
        assert_eq!(runtime.budget().live, 0, "{flavour} {name}: a permit was left behind: {:?}", runtime.budget());
        still_serving(&runtime, flavour, name);
        messages.push(message.clone());
    }
    assert!(!messages.is_empty(), "no loader in this build");
    messages
}

fn all_contain(messages: &[String], needle: &str) {
    for m in messages {
        assert!(m.contains(needle), "{needle:?} not in {m:?}");
    }
}

#[test]
fn a_type_nesting_ten_thousand_levels_is_refused_by_its_length() {
    // Before the allow-list, arrow-rs's parser overflowed the stack and aborted the process.
    let messages = refused_at_load("hostile_deep_type");
    all_contain(&messages, "argument 1 of `f`: type text of 60005 bytes; at most 1024");
}

#[test]
fn a_short_type_nesting_too_deep_is_refused() {
    all_contain(&refused_at_load("hostile_nested_type"), "return type of `f`: type nests 18 levels; at most 16");
}

#[test]
fn huge_documents_and_too_many_functions_are_refused_before_parsing() {
    all_contain(&refused_at_load("hostile_huge_document"), "describe document of 300");
    all_contain(&refused_at_load("hostile_many_functions"), "declares 2001 functions; at most 1024");
}

#[test]
fn types_the_host_cannot_build_arrays_of_are_refused() {
    // Each of these made arrow-rs panic (new_null_array) or allocate gigabytes in the
    // DataFusion adapter, or let an answer claim values it does not hold.
    all_contain(&refused_at_load("hostile_dictionary_type"), "return type of `f`: type Dictionary(Utf8, Utf8)");
    all_contain(&refused_at_load("hostile_union_type"), "argument 1 of `f`: type Union");
    all_contain(&refused_at_load("hostile_zero_width"), "carries no data");
    all_contain(&refused_at_load("hostile_wide_type"), "bytes per value; at most 65536");
}

#[test]
fn a_megabyte_error_message_is_cut_in_both_flavours() {
    for flavour in flavours() {
        let runtime = runtime();
        let plugin = runtime.load(&fixture(flavour, "hostile_long_error")).unwrap();
        let err = plugin.call("f", &one_int()).unwrap_err();
        let Error::Guest { message, .. } = &err else { panic!("{flavour}: {err}") };
        assert!(message.len() <= plugrt::MAX_MESSAGE + 3, "{flavour}: a message of {} bytes", message.len());
        assert!(message.starts_with("xxxx") && message.ends_with("..."), "{flavour}: {}", &message[..16]);
        assert_eq!(plugin.metrics().status.leased, 0, "{flavour}: a lease leaked");
        still_serving(&runtime, flavour, "a long error");
    }
}

#[cfg(feature = "datafusion")]
mod sql {
    use plugrt::datafusion::Naming;
    use plugrt::datafusion::datafusion::prelude::SessionContext;

    use super::*;

    /// A plugin reloaded with another return type under a registered UDF: the query fails,
    /// naming the change, instead of handing DataFusion a column of another type than planned.
    #[test]
    fn a_reload_that_changes_a_return_type_fails_the_registered_udf() {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for flavour in flavours() {
            let runtime = runtime();
            let plugin = runtime.load(&fixture(flavour, "hostile_signature_v1")).unwrap();
            let ctx = SessionContext::new();
            runtime.register_udfs(&ctx, Naming::Declared);
            let query = "SELECT f(CAST(7 AS BIGINT)) AS v";
            let before = tokio.block_on(async { ctx.sql(query).await?.collect().await }).unwrap();
            assert_eq!(before[0].schema().field(0).data_type(), &arrow_schema::DataType::Int32, "{flavour}");
            plugin.reload(&fixture(flavour, "hostile_signature_v2")).unwrap();
            let err = tokio.block_on(async { ctx.sql(query).await?.collect().await }).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("hostile_signature") && text.contains("reloaded with another signature"),
                "{flavour}: {text}"
            );
            // Registered again, the new signature serves.
            let ctx = SessionContext::new();
            runtime.register_udfs(&ctx, Naming::Declared);
            let after = tokio.block_on(async { ctx.sql(query).await?.collect().await }).unwrap();
            assert_eq!(after[0].schema().field(0).data_type(), &arrow_schema::DataType::Int64, "{flavour}");
            assert_eq!(plugin.metrics().status.leased, 0, "{flavour}: a lease leaked");
        }
    }
}
