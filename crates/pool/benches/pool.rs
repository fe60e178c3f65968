//! Pool overhead: uncontended acquire+release (inline creation, pre-warmed, reused), beside a
//! bare mutex lock/unlock pair as the baseline, and throughput of 1 vs 2 threads each holding
//! every lease for ~2 µs of work.
//!
//! `cargo xtask bench` runs this and prints the medians and ratios.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use plugrt_pool::{Maintainer, Pool, Reuse};

/// A no-op instance: creating and dropping it costs nothing, so only the pool is measured.
fn noop() -> Result<(), ()> {
    Ok(())
}

fn acquire_release(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_acquire_release");

    let baseline = std::sync::Mutex::new(0u64);
    g.bench_function("baseline_mutex_x2", |b| {
        b.iter(|| {
            *baseline.lock().unwrap() += 1;
            *baseline.lock().unwrap() += 1;
        })
    });

    let pool = Pool::builder(noop).max_instances(16).build().unwrap();
    g.bench_function("fresh_inline", |b| b.iter(|| drop(black_box(pool.acquire().unwrap()))));

    let worker = Maintainer::spawn(Duration::from_secs(1)).unwrap();
    let pool = Pool::builder(noop).max_instances(256).min_ready(128).maintainer(worker).build().unwrap();
    while pool.status().ready < 128 {
        std::thread::sleep(Duration::from_millis(1));
    }
    g.bench_function("fresh_prewarmed", |b| b.iter(|| drop(black_box(pool.acquire().unwrap()))));
    let pool = Pool::builder(noop).max_instances(16).reuse(Reuse::bounded(u32::MAX)).build().unwrap();
    g.bench_function("reused", |b| b.iter(|| drop(black_box(pool.acquire().unwrap()))));
    g.finish();
}

/// Busy work of about `d`, standing in for a guest call.
fn work(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_2us_work");
    for threads in [1usize, 2] {
        let pool = Pool::builder(noop).max_instances(4).build().unwrap();
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let start = Arc::new(Barrier::new(threads + 1));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let (pool, start) = (pool.clone(), start.clone());
                        std::thread::spawn(move || {
                            start.wait();
                            for _ in 0..per_thread {
                                let lease = pool.acquire().unwrap();
                                work(Duration::from_micros(2));
                                drop(lease);
                            }
                        })
                    })
                    .collect();
                start.wait();
                let t0 = Instant::now();
                for h in handles {
                    h.join().unwrap();
                }
                // Time per lease: the inverse of throughput.
                t0.elapsed().mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = acquire_release, scaling
}
criterion_main!(benches);
