//! `plugrt build [DIR] [--flavour component|extism]`.

use std::path::PathBuf;

use clap::Args;
use plugrt_guest_build::Toolchain;

use crate::project::{FlavourArg, Project};
use crate::{Ceilings, show};

/// Build a guest project into build/FLAVOUR/NAME.wasm and check that each plugin loads.
#[derive(Args)]
pub struct BuildArgs {
    /// The project folder (with plugrt.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Build only this flavour (default: every flavour the language has).
    #[arg(long, value_enum)]
    flavour: Option<FlavourArg>,
}

pub fn run(ceilings: Ceilings, args: BuildArgs) -> Result<(), String> {
    let project = Project::open(&args.dir)?;
    let flavours = project.flavours(args.flavour)?;
    let tools = Toolchain::from_env();
    project.install(&tools)?;
    let runtime = ceilings.runtime()?;
    for flavour in flavours {
        let (path, took) = project.build(&tools, flavour)?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!("built {} ({} KiB) in {}", path.display(), size.div_ceil(1024), show::duration(took));
        // The build is only done when the host accepts it (describe, contract, exports).
        let plugin =
            runtime.load_file(&path).map_err(|e| format!("{} built but does not load: {e}", path.display()))?;
        for line in show::functions(&plugin.description()) {
            println!("  {line}");
        }
        runtime.unload(&plugin.name(), std::time::Duration::ZERO);
    }
    Ok(())
}
