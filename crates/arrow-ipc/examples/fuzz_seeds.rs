//! Writes the fuzz seed corpus: IPC streams of random batches covering every supported type,
//! one file each. `cargo xtask fuzz` runs it; the corpus is never committed.
//!
//! Usage: `cargo run -p plugrt-arrow-ipc --example fuzz_seeds -- DIR [COUNT]`

#[path = "../tests/all/batches.rs"]
#[allow(dead_code)]
mod batches;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: fuzz_seeds DIR [COUNT]")?);
    let count: u64 = args.next().map(|c| c.parse()).transpose()?.unwrap_or(64);
    std::fs::create_dir_all(&dir)?;
    for seed in 0..count {
        let mut rng = batches::Rng::new(seed);
        let batch = batches::batch(&mut rng);
        // Keep seeds small: libFuzzer mutates small inputs far faster.
        let batch = batch.slice(0, batch.num_rows().min(8));
        let bytes = plugrt_arrow_ipc::encode(&batch)?;
        std::fs::write(dir.join(format!("seed-{seed:03}.arrows")), bytes)?;
    }
    println!("wrote {count} seeds to {}", dir.display());
    Ok(())
}
