//! `plugrt test [DIR] [--flavour F] [--bless]`: a guest project's SQL checks.

use std::path::{Path, PathBuf};

use clap::Args;
use plugrt_guest_build::Toolchain;

use crate::project::{self, FlavourArg, Project};
use crate::{Ceilings, show, sql};

/// Build a guest project, then run each tests/NAME.sql with its functions and compare the
/// printed table with tests/NAME.out.
#[derive(Args)]
pub struct TestArgs {
    /// The project folder (with plugrt.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Test only this flavour (default: every flavour the language has).
    #[arg(long, value_enum)]
    flavour: Option<FlavourArg>,
    /// Write each query's table (or error) into its .out file instead of comparing.
    #[arg(long)]
    bless: bool,
}

/// What a check prints: the result table, or `error: MESSAGE` (so an expected error can be
/// checked too).
fn outcome(runtime: &plugrt::Runtime, query: &str) -> String {
    match sql::query(runtime, &[], query) {
        Ok(batch) => format!("{}\n", show::table(&batch)),
        Err(e) => format!("error: {e}\n"),
    }
}

pub fn run(ceilings: Ceilings, args: TestArgs) -> Result<(), String> {
    let project = Project::open(&args.dir)?;
    let flavours = project.flavours(args.flavour)?;
    let checks = queries(&project.dir.join("tests"))?;
    let tools = Toolchain::from_env();
    project.install(&tools)?;
    let mut failed = 0;
    for flavour in flavours {
        let (path, _) = project.build(&tools, flavour)?;
        let runtime = ceilings.runtime()?;
        runtime.load_file(&path).map_err(|e| format!("{} built but does not load: {e}", path.display()))?;
        for query_file in &checks {
            let query = std::fs::read_to_string(query_file).map_err(|e| format!("{}: {e}", query_file.display()))?;
            let got = outcome(&runtime, &query);
            let expected_file = query_file.with_extension("out");
            let label = format!("{} ({flavour})", query_file.file_name().unwrap_or_default().to_string_lossy());
            if args.bless {
                std::fs::write(&expected_file, &got).map_err(|e| format!("{}: {e}", expected_file.display()))?;
                println!("wrote {}", expected_file.display());
                continue;
            }
            match std::fs::read_to_string(&expected_file) {
                Ok(expected) if expected.trim_end() == got.trim_end() => println!("ok    {label}"),
                Ok(expected) => {
                    failed += 1;
                    println!("FAIL  {label}\nexpected ({}):\n{expected}\ngot:\n{got}", expected_file.display());
                }
                Err(_) => {
                    failed += 1;
                    println!(
                        "FAIL  {label}: no {}; `plugrt test --bless` writes it from this result:\n{got}",
                        expected_file.display()
                    );
                }
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} check(s) failed")),
    }
}

/// The `.sql` files of `dir`, sorted; none is an error (a test run that checks nothing).
fn queries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let files = project::files(dir, "sql").map_err(|e| format!("{e} (checks are tests/NAME.sql)"))?;
    if files.is_empty() {
        return Err(format!("no .sql files in {}: nothing to check", dir.display()));
    }
    Ok(files)
}
