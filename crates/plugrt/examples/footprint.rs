//! What a loaded plugin costs: loads N copies of the probe fixture (renamed) of one flavour
//! into one runtime, calls each once, and prints the process's RSS, address space and memory
//! mappings at 1, 50 and 200 plugins, with the allocator's reservation.
//!
//! `cargo run --release -p plugrt --features extism --example footprint -- component|extism`
//! (after `cargo xtask fixtures`). Linux only: it reads `/proc/self`.

fn proc_status() -> (u64, u64, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
    };
    let maps = std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0);
    (kb("VmRSS:"), kb("VmSize:"), maps)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flavour = std::env::args().nth(1).unwrap_or_else(|| "component".into());
    let probe = std::fs::read(format!("fixtures/out/{flavour}/probe.wasm"))?;
    let runtime = plugrt::Runtime::builder().build()?;
    let batch = plugrt_arrow_ipc::input_batch(&[], 1)?; // the probe takes no arguments
    let (rss0, size0, maps0) = proc_status();
    println!("flavour {flavour}: before loading: RSS {rss0} kB, address space {size0} kB, {maps0} mappings");
    println!(
        "| plugins | RSS per plugin | address space per plugin | mappings per plugin | reserved by the allocator |"
    );
    println!("|---|---|---|---|---|");
    for n in 1..=200usize {
        let mut bytes = probe.clone();
        let at = bytes.windows(14).position(|w| w == br#""name":"probe""#).ok_or("not the probe fixture")?;
        bytes[at + 8..at + 13].copy_from_slice(format!("p{n:04}").as_bytes());
        let plugin = runtime.load(&bytes)?;
        plugin.call("calls", &batch)?;
        if [1, 50, 200].contains(&n) {
            std::thread::sleep(std::time::Duration::from_millis(200)); // let pre-warm settle
            let (rss, size, maps) = proc_status();
            let per = |now: u64, before: u64| (now.saturating_sub(before)) / n as u64;
            println!(
                "| {n} | {} kB | {} MB | {} | {:?} |",
                per(rss, rss0),
                per(size, size0) / 1024,
                (maps.saturating_sub(maps0)) / n,
                plugin.allocator()
            );
        }
    }
    Ok(())
}
