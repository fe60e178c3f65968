//! The loaders' edge cases through the façade, for every flavour this build has: each
//! misbehaving guest gives its typed error, naming plugin and function, and the pool serves on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use plugrt::{CallMemory, CallOptions, CancelToken, Error, GuestErrorKind};

use crate::common::{fixture, flavours, limits, one_int, runtime};

fn fails(name: &str) -> Vec<Error> {
    let mut errors = Vec::new();
    for flavour in flavours() {
        let runtime = runtime();
        let plugin = runtime.load(&fixture(flavour, name)).unwrap_or_else(|e| panic!("{flavour} {name}: {e}"));
        let function = plugin.description().functions[0].name.clone();
        let err = plugin.call(&function, &one_int()).unwrap_err();
        let again = plugin.call(&function, &one_int()).unwrap_err();
        assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&again), "{flavour} {name}: {err} / {again}");
        assert_eq!(plugin.metrics().status.leased, 0, "{flavour} {name}: a lease leaked");
        let text = err.to_string();
        assert!(text.contains(name) && text.contains(&function), "{flavour}: names plugin and function: {text}");
        errors.push(err);
    }
    assert!(!errors.is_empty(), "no loader in this build");
    errors
}

#[test]
fn traps_timeouts_and_limits_are_typed() {
    assert!(fails("trap").iter().all(|e| matches!(e, Error::Trap { .. })));
    assert!(fails("infinite_loop").iter().all(|e| matches!(e, Error::Timeout { .. })));
    assert!(fails("memory_bomb").iter().all(|e| matches!(e, Error::MemoryLimit { .. })));
    assert!(fails("deep_recursion").iter().all(|e| matches!(e, Error::Trap { .. })));
    assert!(fails("huge_output").iter().all(|e| matches!(e, Error::OutputTooLarge { .. })));
}

#[test]
fn bad_outputs_break_the_contract() {
    for name in ["not_ipc", "truncated_ipc", "wrong_type", "wrong_rows"] {
        assert!(fails(name).iter().all(|e| matches!(e, Error::Contract { .. })), "{name}");
    }
}

#[test]
fn guest_errors_keep_their_fields() {
    for err in fails("guest_error") {
        assert!(
            matches!(&err, Error::Guest { kind: GuestErrorKind::ResourceExhausted, retryable: true, message, .. }
                if message == "arg0 must not be negative"),
            "{err}"
        );
    }
}

#[test]
fn a_looping_start_function_is_refused_within_twice_the_timeout() {
    for flavour in flavours() {
        let runtime = runtime();
        // Loading compiles (in a debug build, extism's kernel too): a plugin of the same size
        // that loads fine is the baseline, measured in the same run.
        let started = Instant::now();
        let probe = runtime.load(&fixture(flavour, "probe")).unwrap();
        let compile = started.elapsed();
        let bytes = fixture(flavour, "start_loop");
        let started = Instant::now();
        // On a thread of its own, so that an unbounded instantiation fails this test instead
        // of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let loader = runtime.clone();
        std::thread::spawn(move || tx.send(loader.load(&bytes).map(|p| p.name())));
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{flavour}: loading a looping start function hung"))
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(&err, Error::Load { message, .. } if message.contains("timed out")), "{flavour}: {err}");
        assert!(
            took < compile * 2 + limits().timeout * 2,
            "{flavour}: refused after {took:?} (loading the probe took {compile:?})"
        );
        assert_eq!(runtime.budget().live, 0, "{flavour}: the describe instance's permit came back");
        // The thread is free again: the runtime still calls.
        assert_eq!(probe.call("calls", &crate::common::no_args(1)).unwrap().len(), 1);
    }
}

#[test]
fn a_cancelled_call_stops_at_once_and_the_pool_serves_on() {
    for flavour in flavours() {
        let limits = plugrt::Limits { timeout: Duration::from_secs(30), ..limits() };
        let runtime = plugrt::Runtime::builder().limits(limits).build().unwrap();
        let plugin = runtime.load(&fixture(flavour, "infinite_loop")).unwrap();
        // Cancelled before it starts: no guest runs.
        let token = CancelToken::new();
        token.cancel();
        let options = CallOptions { cancel: Some(token), ..CallOptions::default() };
        let err = plugin.call_with("spin", &one_int(), &options).unwrap_err();
        assert!(matches!(err, Error::Cancelled { .. }), "{flavour}: {err}");
        // Cancelled while it spins, from another thread.
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                token.cancel();
                Instant::now()
            })
        };
        let options = CallOptions { cancel: Some(token), ..CallOptions::default() };
        let err = plugin.call_with("spin", &one_int(), &options).unwrap_err();
        let took = canceller.join().unwrap().elapsed();
        assert!(matches!(err, Error::Cancelled { .. }), "{flavour}: {err}");
        assert!(err.to_string().contains("infinite_loop") && err.to_string().contains("spin"), "{err}");
        assert!(took < Duration::from_secs(2), "{flavour}: stopped {took:?} after the cancel");
        assert_eq!(plugin.metrics().status.leased, 0, "{flavour}: a lease leaked");
        let poisoned = plugin.metrics().counters.retired_for(plugrt::RetireReason::Poisoned);
        assert!(poisoned >= 2, "{flavour}: both cancelled calls' instances should be discarded, {poisoned} were");
        // An uncancelled token changes nothing for a call that returns.
        let probe = runtime.load(&fixture(flavour, "probe")).unwrap();
        let options = CallOptions { cancel: Some(CancelToken::new()), ..CallOptions::default() };
        let function = probe.description().functions[0].name.clone();
        probe.call_with(&function, &crate::common::no_args(1), &options).unwrap_or_else(|e| panic!("{flavour}: {e}"));
    }
}

/// A budget that grants up to `left` bytes in total.
struct Budget {
    left: AtomicUsize,
}

impl CallMemory for Budget {
    fn try_grow(&self, bytes: usize) -> Result<(), String> {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(bytes))
            .map(|_| ())
            .map_err(|left| format!("{left} bytes left"))
    }
}

#[test]
fn a_memory_budget_stops_a_call_before_its_own_limit() {
    for flavour in flavours() {
        let runtime = runtime(); // 64 MiB per call
        let bomb = runtime.load(&fixture(flavour, "memory_bomb")).unwrap();
        let budget = Arc::new(Budget { left: AtomicUsize::new(8 << 20) });
        let options = CallOptions { memory: Some(budget.clone()), ..CallOptions::default() };
        let err = bomb.call_with("eat", &one_int(), &options).unwrap_err();
        let Error::MemoryBudget { requested, message, .. } = &err else { panic!("{flavour}: {err}") };
        assert!(*requested > 0 && message.ends_with("bytes left"), "{flavour}: {err}");
        assert!(err.is_resource_limit() && err.discards_instance());
        // Without a budget the bomb meets its own limit, as before.
        let err = bomb.call("eat", &one_int()).unwrap_err();
        assert!(matches!(err, Error::MemoryLimit { .. }), "{flavour}: {err}");
        assert_eq!(bomb.metrics().status.leased, 0, "{flavour}: a lease leaked");
    }
}
