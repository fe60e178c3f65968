//! Interrupting a call when its caller's `CancelToken` is cancelled.
//!
//! extism interrupts a call through its `CancelHandle`, which asks extism's timer thread to
//! advance the engine's epoch, but only while that timer knows the call as running: a cancel
//! sent a moment before the call registered itself is lost. So the token's hook does not send
//! the cancel itself; it hands the call to one background thread that sends it every
//! millisecond until the call has returned (at most [`TRIES`] times). The hook stays quick,
//! and a cancel racing the call's start is not missed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use plugrt_contract::{CancelToken, HookGuard};

/// Cancels sent for one call before giving up (a call that returns stops them earlier).
const TRIES: u32 = 1000;
const EVERY: Duration = Duration::from_millis(1);

/// One call in flight that its caller may cancel.
struct InFlight {
    handle: extism::CancelHandle,
    done: AtomicBool,
}

/// Watches a call while it runs; dropping it (when the call returns) ends the watch.
pub(crate) struct Watch {
    call: Arc<InFlight>,
    _hook: HookGuard,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.call.done.store(true, Ordering::Release);
    }
}

/// Has the call of `handle` interrupted once `token` is cancelled, until the watch is dropped.
pub(crate) fn watch(token: &CancelToken, handle: extism::CancelHandle) -> Watch {
    let call = Arc::new(InFlight { handle, done: AtomicBool::new(false) });
    let hooked = call.clone();
    let hook = token.on_cancel(move || match queue() {
        Some(queue) => {
            // A send fails only if the thread is gone; then cancel once from here.
            if let Err(e) = queue.send(hooked) {
                let _ = e.0.handle.cancel();
            }
        }
        None => {
            let _ = hooked.handle.cancel();
        }
    });
    Watch { call, _hook: hook }
}

fn queue() -> Option<&'static Sender<Arc<InFlight>>> {
    static QUEUE: OnceLock<Option<Sender<Arc<InFlight>>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel();
            match std::thread::Builder::new().name("plugrt-extism-cancel".into()).spawn(move || run(rx)) {
                Ok(_) => Some(tx),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the cancel thread; cancels are sent once");
                    None
                }
            }
        })
        .as_ref()
}

fn run(rx: Receiver<Arc<InFlight>>) {
    let mut pending: Vec<(Arc<InFlight>, u32)> = Vec::new();
    loop {
        let next = if pending.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(EVERY)
        };
        match next {
            Ok(call) => pending.push((call, 0)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        pending.retain_mut(|(call, sent)| {
            if call.done.load(Ordering::Acquire) || *sent == TRIES {
                return false;
            }
            let _ = call.handle.cancel();
            *sent += 1;
            true
        });
    }
}
