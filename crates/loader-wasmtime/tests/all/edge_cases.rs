//! Each misbehaving fixture gives its typed error, and the pool keeps serving.
//! Shared with plugrt-extism's tests (its `main.rs` includes this file).

use crate::api::{Error, GuestErrorKind};

use crate::common::{MEMORY_LIMIT, assert_pool_healthy, load, one_int};

fn fails(name: &str) -> Error {
    let plugin = load(name);
    let function = plugin.description().functions[0].name.clone();
    let err = plugin.call(&function, &one_int()).unwrap_err();
    assert_pool_healthy(&plugin);
    // The pool still serves: the same failure again, from a fresh instance.
    let again = plugin.call(&function, &one_int()).unwrap_err();
    assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&again), "{name}: {err} then {again}");
    assert_pool_healthy(&plugin);
    assert!(err.to_string().contains(name), "error should name the plugin: {err}");
    err
}

#[test]
fn trap() {
    let err = fails("trap");
    assert!(matches!(&err, Error::Trap { message, .. } if message.contains("unreachable")), "{err}");
}

#[test]
fn infinite_loop_times_out() {
    assert!(matches!(fails("infinite_loop"), Error::Timeout { .. }));
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    assert!(matches!(fails("memory_bomb"), Error::MemoryLimit { limit, .. } if limit == MEMORY_LIMIT));
}

#[test]
fn deep_recursion_traps() {
    let err = fails("deep_recursion");
    assert!(matches!(&err, Error::Trap { message, .. } if message.contains("stack")), "{err}");
}

#[test]
fn bad_outputs_break_the_contract() {
    for name in ["not_ipc", "truncated_ipc", "wrong_type", "wrong_rows"] {
        let err = fails(name);
        assert!(matches!(err, Error::Contract { .. }), "{name}: {err}");
    }
}

#[test]
fn huge_output_is_refused_before_decoding() {
    assert!(matches!(fails("huge_output"), Error::OutputTooLarge { limit, .. } if limit == 1 << 20));
}

#[test]
fn guest_errors_keep_their_fields() {
    match fails("guest_error") {
        Error::Guest { kind: GuestErrorKind::ResourceExhausted, message, retryable: true, .. } => {
            assert_eq!(message, "arg0 must not be negative");
        }
        other => panic!("{other}"),
    }
}
