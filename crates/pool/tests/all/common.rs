//! A manager that counts its instances, so tests can check the cap from the outside.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use plugrt_pool::{Manager, Pool, PoolBuilder};

/// Counts instances alive (created and not yet dropped) and the peak of that count.
#[derive(Clone, Default)]
pub struct Counting {
    pub live: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    pub created: Arc<AtomicUsize>,
    /// When set, `create` fails.
    pub fail: Arc<AtomicBool>,
    /// When set, `recycle` refuses instances whose `dirty` flag is up.
    pub check_dirty: Arc<AtomicBool>,
}

/// An instance: a serial number, a use counter a test can bump to detect reuse, and the name
/// of the thread that created it.
#[derive(Debug)]
pub struct Probe {
    pub id: usize,
    pub uses: u32,
    pub dirty: bool,
    pub created_on: Option<String>,
    live: Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.live.fetch_sub(1, SeqCst);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct CreateFailed;

impl std::fmt::Display for CreateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("create failed on purpose")
    }
}

impl Manager for Counting {
    type Instance = Probe;
    type Error = CreateFailed;

    fn create(&self) -> Result<Probe, CreateFailed> {
        if self.fail.load(SeqCst) {
            return Err(CreateFailed);
        }
        let now = self.live.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
        Ok(Probe {
            id: self.created.fetch_add(1, SeqCst),
            uses: 0,
            dirty: false,
            created_on: std::thread::current().name().map(String::from),
            live: self.live.clone(),
        })
    }

    fn recycle(&self, probe: &mut Probe) -> Result<(), CreateFailed> {
        if self.check_dirty.load(SeqCst) && probe.dirty { Err(CreateFailed) } else { Ok(()) }
    }
}

impl Counting {
    pub fn live(&self) -> usize {
        self.live.load(SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(SeqCst)
    }

    pub fn created(&self) -> usize {
        self.created.load(SeqCst)
    }

    /// A builder with manual maintenance and the given cap.
    pub fn builder(&self, max: usize) -> PoolBuilder<Counting> {
        Pool::builder(self.clone()).name("test").max_instances(max).manual_maintenance()
    }
}

/// Polls `cond` every millisecond for up to 10 s; panics with `what` if it never holds.
#[cfg(not(plugrt_loom))]
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
