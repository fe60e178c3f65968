//! Counters, histograms, the observer hook and the resource-limit conversion.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use plugrt_pool::{Event, Observer, Pool, PoolError, PoolResourceLimit, RetireReason};

use crate::common::Counting;

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Event)>>);

impl Observer for Recorder {
    fn on_event(&self, pool: &str, event: Event) {
        self.0.lock().unwrap().push((pool.to_owned(), event));
    }
}

#[test]
fn counters_and_histograms_follow_the_calls() {
    let mgr = Counting::default();
    let pool = mgr.builder(1).build().unwrap();
    for _ in 0..3 {
        drop(pool.acquire().unwrap());
    }
    let held = pool.acquire().unwrap();
    let _ = pool.try_acquire();
    let _ = pool.acquire_with_timeout(Duration::ZERO);
    let m = pool.metrics();
    let c = m.counters;
    assert_eq!((c.acquires, c.creations, c.exhausted, c.timeouts), (4, 4, 1, 1));
    assert_eq!(c.retired_for(RetireReason::SingleUse), 3);
    assert_eq!((m.acquire_wait.count, m.create_time.count), (4, 4));
    assert_eq!(m.create_time.counts.iter().sum::<u64>(), 4);
    assert!(m.acquire_wait.quantile(0.5).is_some());
    assert_eq!((m.status.leased, m.status.live, m.status.max_instances), (1, 1, 1));
    drop(held);
}

#[test]
fn the_observer_sees_each_event_with_the_pool_name() {
    let mgr = Counting::default();
    let recorder = Arc::new(Recorder::default());
    let pool = mgr.builder(1).name("udf-a").observer(recorder.clone()).build().unwrap();
    drop(pool.acquire().unwrap());
    let events = recorder.0.lock().unwrap().clone();
    assert!(events.iter().all(|(name, _)| name == "udf-a"));
    let kinds: Vec<_> = events.iter().map(|(_, e)| std::mem::discriminant(e)).collect();
    let expected = [
        Event::Created { took: Duration::ZERO },
        Event::Acquired { waited: Duration::ZERO, reused: false },
        Event::Retired(RetireReason::SingleUse),
    ]
    .map(|e| std::mem::discriminant(&e));
    assert_eq!(kinds, expected);
    assert_eq!(events[2].1, Event::Retired(RetireReason::SingleUse));
}

#[derive(Debug, PartialEq)]
enum LoaderError {
    ResourceLimit(String),
}

impl PoolResourceLimit for LoaderError {
    fn resource_limit(msg: String) -> Self {
        LoaderError::ResourceLimit(msg)
    }
}

#[test]
fn pool_limits_convert_into_loader_errors() {
    let pool = Pool::builder(|| Ok::<_, std::io::Error>(())).name("plug").max_instances(1).build().unwrap();
    let _held = pool.acquire().unwrap();
    let err: PoolError<std::io::Error> = pool.try_acquire().unwrap_err();
    assert_eq!(
        err.into_resource_limit::<LoaderError>().unwrap(),
        LoaderError::ResourceLimit("pool `plug`: all 1 instances are in use".into())
    );
    pool.close(Duration::ZERO);
    let closed = pool.try_acquire().unwrap_err();
    assert!(closed.into_resource_limit::<LoaderError>().is_err(), "closed is not a resource limit");
}
