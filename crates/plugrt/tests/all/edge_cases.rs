//! The loaders' edge cases through the façade, for every flavour this build has: each
//! misbehaving guest gives its typed error, naming plugin and function, and the pool serves on.

use std::time::Instant;

use plugrt::{Error, GuestErrorKind};

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
