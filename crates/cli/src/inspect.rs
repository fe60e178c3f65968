//! `plugrt inspect PLUGIN...`.

use std::path::PathBuf;

use plugrt::Allocator;

use crate::{Ceilings, load, show};

pub fn run(ceilings: Ceilings, paths: &[PathBuf]) -> Result<(), String> {
    let runtime = ceilings.runtime()?;
    let mut failed = 0;
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match load(&runtime, path) {
            Ok((plugin, took)) => {
                print(path, &plugin, took);
                // Files may hold plugins of the same name (two flavours of one guest).
                runtime.unload(&plugin.name(), std::time::Duration::ZERO);
            }
            Err(e) => {
                // Every file is inspected; the command fails at the end if any did not load.
                eprintln!("plugrt: {e}");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} plugins did not load", paths.len())),
    }
}

fn print(path: &std::path::Path, plugin: &plugrt::Plugin, took: std::time::Duration) {
    let description = plugin.description();
    let limits = plugin.limits();
    println!("{}", path.display());
    println!("  plugin     {} {} ({})", description.name, description.version, plugin.flavour());
    println!("  contract   {}", description.contract);
    let sha256: String = plugin.sha256().iter().map(|b| format!("{b:02x}")).collect();
    println!("  sha256     {sha256} (plans name the plugin by it)");
    println!("  loaded in  {}", show::duration(took));
    let allocator = match plugin.allocator() {
        Allocator::Pooling { reserved_bytes } => {
            format!("pooling ({} of address space reserved)", show::bytes(reserved_bytes))
        }
        Allocator::OnDemand => "on demand".to_owned(),
    };
    println!("  allocator  {allocator}");
    println!(
        "  limits     timeout {}, memory {}, output {}, {} instances, fuel {}",
        show::duration(limits.timeout),
        show::bytes(limits.memory_bytes as u64),
        show::bytes(limits.output_bytes as u64),
        limits.instances,
        limits.fuel.map_or("unmetered".to_owned(), |f| f.to_string()),
    );
    println!("  functions");
    for f in &description.functions {
        let volatility = format!("{:?}", f.volatility).to_lowercase();
        println!("    {:<44} {volatility}", show::signature(f));
    }
    if !description.aggregates.is_empty() {
        println!("  aggregates");
        for a in &description.aggregates {
            let volatility = format!("{:?}", a.volatility).to_lowercase();
            println!("    {:<44} {volatility}", show::aggregate(a));
        }
    }
}
