//! What operators see: a `plugrt.call` span per call with the guest's log lines inside it, a
//! `plugrt.load` span per load, and (feature `metrics`) the OpenMetrics export with exact
//! counts after a known sequence of calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::common::{fixture, flavours, no_args, one_int, runtime};

/// A span as it closed: name and every recorded field.
#[derive(Debug, Clone)]
struct Closed {
    name: String,
    fields: BTreeMap<String, String>,
}

/// An event: target, message and the name of the span it happened in.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    message: String,
    in_span: Option<String>,
    span_fields: BTreeMap<String, String>,
}

#[derive(Default, Clone)]
struct Capture {
    spans: Arc<Mutex<Vec<Closed>>>,
    events: Arc<Mutex<Vec<Seen>>>,
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        ctx.span(id).expect("new span").extensions_mut().insert(fields);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("recorded span");
        let mut ext = span.extensions_mut();
        values.record(ext.get_mut::<Fields>().expect("fields stored"));
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let span = ctx.event_span(event);
        self.events.lock().push(Seen {
            target: event.metadata().target().to_owned(),
            message: fields.0.remove("message").unwrap_or_default(),
            in_span: span.as_ref().map(|s| s.name().to_owned()),
            span_fields: span
                .map(|s| s.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default())
                .unwrap_or_default(),
        });
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("closed span");
        let fields = span.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
        self.spans.lock().push(Closed { name: span.name().to_owned(), fields });
    }
}

/// A global subscriber that records nothing but keeps every callsite `sometimes` interesting.
///
/// tracing caches each callsite's interest process-wide, computed the first time any thread
/// reaches it. Without a global subscriber, a sibling test reaching `plugrt.load` on a thread
/// with no subscriber would cache it as `never`, and this module's scoped subscriber would
/// miss the span. With this one installed, the cache says `sometimes` and each thread's own
/// subscriber decides.
struct Anchor;

impl Subscriber for Anchor {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Runs `work` with a capturing subscriber on this thread.
fn capture(work: impl FnOnce()) -> (Vec<Closed>, Vec<Seen>) {
    static ANCHOR: std::sync::Once = std::sync::Once::new();
    ANCHOR.call_once(|| {
        tracing::subscriber::set_global_default(Anchor).expect("no other global subscriber in this test binary")
    });
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, work);
    let spans = capture.spans.lock().clone();
    let events = capture.events.lock().clone();
    (spans, events)
}

#[test]
fn every_call_has_a_span_with_the_guest_log_inside() {
    for flavour in flavours() {
        let (spans, events) = capture(|| {
            let runtime = runtime();
            let logger = runtime.load(&fixture(flavour, "logger")).expect("logger loads");
            logger.call("chatty", &no_args(1)).unwrap_or_else(|e| panic!("{flavour}: {e}"));
            let trap = runtime.load(&fixture(flavour, "trap")).expect("trap loads");
            assert!(trap.call("boom", &one_int()).is_err());
        });
        let calls: Vec<_> = spans.iter().filter(|s| s.name == "plugrt.call").collect();
        assert_eq!(calls.len(), 2, "{flavour}: one span per call: {calls:?}");
        let ok = &calls[0].fields;
        assert_eq!(ok["plugin"], "logger", "{flavour}: {ok:?}");
        assert_eq!(ok["function"], "chatty");
        assert_eq!(ok["rows"], "1");
        assert_eq!(ok["outcome"], "ok");
        assert_eq!(ok["instance"], "fresh");
        assert!(ok["wait_us"].parse::<u64>().is_ok(), "{flavour}: wait_us is a number: {ok:?}");
        let trapped = &calls[1].fields;
        assert_eq!((trapped["plugin"].as_str(), trapped["outcome"].as_str()), ("trap", "trap"), "{flavour}");

        let log = events
            .iter()
            .find(|e| e.message == "hello from the logger")
            .unwrap_or_else(|| panic!("{flavour}: the guest's log line was not seen: {events:?}"));
        assert_eq!(log.target, plugrt::GUEST_TARGET, "{flavour}");
        assert_eq!(log.in_span.as_deref(), Some("plugrt.call"), "{flavour}: the guest log is inside the call's span");
        assert_eq!(log.span_fields["function"], "chatty", "{flavour}");

        let loads: Vec<_> = spans.iter().filter(|s| s.name == "plugrt.load").collect();
        assert_eq!(loads.len(), 2, "{flavour}: one span per load: {loads:?}");
        assert_eq!(loads[0].fields["name"], "logger", "{flavour}");
        assert_eq!(loads[0].fields["outcome"], "ok");
        assert!(loads[0].fields["took_ms"].parse::<f64>().is_ok(), "{flavour}: {loads:?}");
    }
}

#[test]
fn a_failed_load_has_a_span_saying_so() {
    for flavour in flavours() {
        let (spans, _) = capture(|| {
            assert!(runtime().load(&fixture(flavour, "describe_malformed")).is_err());
        });
        let load = spans.iter().find(|s| s.name == "plugrt.load").expect("a load span");
        assert_eq!(load.fields["outcome"], "error", "{flavour}: {load:?}");
        assert!(!load.fields.contains_key("name"), "{flavour}: a failed load has no plugin name yet");
    }
}

#[cfg(feature = "metrics")]
mod metrics {
    use std::sync::Arc;
    use std::time::Duration;

    use arrow_array::{Int64Array, StringArray};
    use openmetrics_parser::openmetrics::parse_openmetrics;
    use openmetrics_parser::{MetricFamily, OpenMetricsType, OpenMetricsValue};
    use plugrt::{Error, Outcome};

    use crate::common::{batch, fixture, flavours, one_int, runtime};

    type Family = MetricFamily<OpenMetricsType, OpenMetricsValue>;

    fn exported(runtime: &plugrt::Runtime) -> std::collections::HashMap<String, Family> {
        let mut text = String::new();
        runtime.encode_metrics(&mut text).expect("encodes");
        parse_openmetrics(&text).unwrap_or_else(|e| panic!("not valid OpenMetrics: {e:?}\n{text}")).families
    }

    /// The value of the sample of `family` whose labels are, in the order plugrt writes them
    /// (`plugin`, `function`, then `outcome` or `reason`), `values`.
    fn value(families: &std::collections::HashMap<String, Family>, family: &str, values: &[&str]) -> Option<f64> {
        let family = families.get(family).unwrap_or_else(|| panic!("no family {family}"));
        let names = ["plugin", "function", if family.family_name == "plugrt_calls" { "outcome" } else { "reason" }];
        let names: Vec<&str> = match (family.family_name.as_str(), values.len()) {
            ("plugrt_instances_retired", 2) => vec!["plugin", "reason"],
            (_, n) => names[..n].to_vec(),
        };
        // The parser keeps label names in its own order: look them up by name.
        let ordered: Vec<String> = family
            .get_label_names()
            .iter()
            .map(|name| {
                let at = names.iter().position(|n| n == name).unwrap_or_else(|| panic!("unexpected label {name}"));
                values[at].to_owned()
            })
            .collect();
        family.get_sample_by_label_values(&ordered).map(|s| match &s.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(g) => g.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.expect("histogram count") as f64,
            other => panic!("unexpected value {other:?}"),
        })
    }

    #[test]
    fn counters_have_the_exact_values_of_a_known_sequence_of_calls() {
        for flavour in flavours() {
            let runtime = runtime();
            let c_udf = runtime.load(&fixture(flavour, "c_udf")).unwrap();
            let trap = runtime.load(&fixture(flavour, "trap")).unwrap();
            let spin = runtime.load(&fixture(flavour, "infinite_loop")).unwrap();
            let liar = runtime.load(&fixture(flavour, "wrong_type")).unwrap();

            for rows in 1..=3i64 {
                let input = batch(vec![Arc::new(Int64Array::from_iter_values(0..rows))]);
                c_udf.call("add_one", &input).unwrap();
            }
            for _ in 0..2 {
                let overflow = batch(vec![Arc::new(Int64Array::from(vec![i64::MAX]))]);
                assert!(matches!(c_udf.call("add_one", &overflow), Err(Error::Guest { .. })));
            }
            let wrong = batch(vec![Arc::new(StringArray::from(vec!["a"]))]);
            assert!(matches!(c_udf.call("add_one", &wrong), Err(Error::InvalidInput { .. })));
            assert!(matches!(c_udf.call("no_such_function", &one_int()), Err(Error::UnknownFunction { .. })));
            for _ in 0..2 {
                assert!(matches!(trap.call("boom", &one_int()), Err(Error::Trap { .. })));
            }
            assert!(matches!(spin.call("spin", &one_int()), Err(Error::Timeout { .. })));
            assert!(matches!(liar.call("liar", &one_int()), Err(Error::Contract { .. })));

            let families = exported(&runtime);
            let calls = |plugin: &str, function: &str, outcome: Outcome| {
                value(&families, "plugrt_calls", &[plugin, function, outcome.as_str()])
                    .unwrap_or_else(|| panic!("{flavour}: no series for {plugin}.{function} {outcome}"))
            };
            let expected: [(&str, &str, Outcome, f64); 6] = [
                ("c_udf", "add_one", Outcome::Ok, 3.0),
                ("c_udf", "add_one", Outcome::GuestError, 2.0),
                ("c_udf", "add_one", Outcome::InvalidInput, 1.0),
                ("trap", "boom", Outcome::Trap, 2.0),
                ("infinite_loop", "spin", Outcome::Timeout, 1.0),
                ("wrong_type", "liar", Outcome::Contract, 1.0),
            ];
            // Every outcome of every declared function: the expected count, zero otherwise.
            let declared = runtime.catalog();
            assert_eq!(
                declared.len(),
                11,
                "{flavour}: c_udf's four functions and four aggregates, three one-function plugins"
            );
            for entry in &declared {
                for outcome in Outcome::ALL {
                    let want = expected
                        .iter()
                        .find(|(p, f, o, _)| *p == entry.plugin && *f == entry.function && *o == outcome)
                        .map_or(0.0, |e| e.3);
                    assert_eq!(calls(&entry.plugin, &entry.function, outcome), want, "{flavour}: {entry:?} {outcome}");
                }
            }
            let family = &families["plugrt_calls"];
            let mut names = family.get_label_names().to_vec();
            names.sort();
            assert_eq!(names, ["function", "outcome", "plugin"]);
            assert_eq!(family.iter_samples().count(), 11 * Outcome::ALL.len(), "{flavour}: no series for typos");

            let labels = ["c_udf", "add_one"];
            assert_eq!(value(&families, "plugrt_call_duration_seconds", &labels), Some(6.0), "{flavour}");
            assert_eq!(value(&families, "plugrt_call_wait_seconds", &labels), Some(6.0), "{flavour}");
            // Every retirement counter: trapped and timed-out instances are poisoned, the others
            // end single-use; nothing else retires an instance here.
            let single_use = [("c_udf", 5.0), ("wrong_type", 1.0)];
            let poisoned = [("trap", 2.0), ("infinite_loop", 1.0)];
            for plugin in ["c_udf", "trap", "infinite_loop", "wrong_type"] {
                for reason in plugrt::RetireReason::ALL {
                    let table: &[(&str, f64)] = match reason.as_str() {
                        "single_use" => &single_use,
                        "poisoned" => &poisoned,
                        _ => &[],
                    };
                    let want = table.iter().find(|(p, _)| *p == plugin).map_or(0.0, |e| e.1);
                    let got = value(&families, "plugrt_instances_retired", &[plugin, reason.as_str()]);
                    assert_eq!(got, Some(want), "{flavour}: {plugin} retired {}", reason.as_str());
                }
                let failures = value(&families, "plugrt_instance_create_failures", &[plugin]);
                assert_eq!(failures, Some(0.0), "{flavour}: {plugin}");
            }
            for entry in &declared {
                let rows = match (entry.plugin.as_str(), entry.function.as_str()) {
                    ("c_udf", "add_one") => 1.0 + 2.0 + 3.0 + 1.0 + 1.0 + 1.0,
                    ("trap", _) => 2.0,
                    ("infinite_loop", _) | ("wrong_type", _) => 1.0,
                    _ => 0.0,
                };
                let got = value(&families, "plugrt_call_rows", &[&entry.plugin, &entry.function]);
                assert_eq!(got, Some(rows), "{flavour}: rows of {entry:?}");
            }
            for plugin in ["c_udf", "trap", "infinite_loop", "wrong_type"] {
                assert_eq!(value(&families, "plugrt_pool_instances_leased", &[plugin]), Some(0.0), "{flavour}");
                assert_eq!(value(&families, "plugrt_pool_instances_max", &[plugin]), Some(4.0), "{flavour}");
            }
            assert_eq!(value(&families, "plugrt_plugins_loaded", &[]), Some(4.0));
            assert_eq!(value(&families, "plugrt_budget_instances_max", &[]), Some(64.0));
            // Its value moves as instances come and go (pre-warm works in the background):
            // only its presence.
            assert!(value(&families, "plugrt_resident_idle_memory_bytes", &[]).is_some(), "{flavour}");

            // Unloading removes the plugin's series, and only them.
            runtime.unload("trap", Duration::from_secs(1)).expect("trap was loaded");
            let families = exported(&runtime);
            assert_eq!(value(&families, "plugrt_calls", &["trap", "boom", "trap"]), None, "{flavour}");
            assert_eq!(value(&families, "plugrt_pool_instances_live", &["trap"]), None, "{flavour}");
            assert_eq!(value(&families, "plugrt_calls", &["c_udf", "add_one", "ok"]), Some(3.0), "{flavour}");
            assert_eq!(value(&families, "plugrt_plugins_loaded", &[]), Some(3.0));
            // A handle kept past the unload still counts its calls, as `closed`.
            assert!(matches!(trap.call("boom", &one_int()), Err(Error::Closed { .. })));
            let boom = &trap.function_metrics()[0];
            assert_eq!(
                (boom.calls_with(Outcome::Closed), boom.calls_with(Outcome::Trap), boom.total_calls()),
                (1, 2, 3)
            );
        }
    }

    #[test]
    fn a_host_registry_gets_the_same_families() {
        let runtime = runtime();
        let mut registry = plugrt::prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(runtime.metrics_collector()));
        let mut text = String::new();
        plugrt::prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let families = parse_openmetrics(&text).expect("valid OpenMetrics").families;
        // No plugin yet: only the runtime's own families.
        let mut names: Vec<_> = families.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "plugrt_budget_instances_live",
                "plugrt_budget_instances_max",
                "plugrt_plugins_loaded",
                "plugrt_resident_idle_memory_bytes"
            ]
        );
        let loaded = runtime.load(&fixture(crate::common::flavours()[0], "c_udf")).unwrap();
        loaded.call("add_one", &one_int()).unwrap();
        let mut text = String::new();
        plugrt::prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let families = parse_openmetrics(&text).expect("valid OpenMetrics").families;
        assert_eq!(value(&families, "plugrt_calls", &["c_udf", "add_one", "ok"]), Some(1.0));
        // The collector does not keep the runtime alive.
        drop(loaded);
        drop(runtime);
        let mut text = String::new();
        plugrt::prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert_eq!(text.trim(), "# EOF");
    }
}
