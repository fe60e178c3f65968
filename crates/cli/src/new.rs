//! `plugrt new --lang c|js NAME [DIR]`: a guest project from a template.

use std::path::PathBuf;

use clap::Args;

use crate::project::{Language, MANIFEST, valid_name};

/// Create a guest project: an example function with a test, ready for `plugrt build`.
#[derive(Args)]
pub struct NewArgs {
    /// The guest's language.
    #[arg(long, value_enum)]
    lang: Language,
    /// The plugin's name: 1-64 characters of a-z, 0-9, _ and -.
    name: String,
    /// The folder to create (default: ./NAME); it must not exist or be empty.
    dir: Option<PathBuf>,
}

/// A template's files: (path in the project, text with `{{name}}` in it).
type Template = &'static [(&'static str, &'static str)];

const C: Template = &[
    (MANIFEST, include_str!("../templates/c/plugrt.toml")),
    ("README.md", include_str!("../templates/c/README.md")),
    (".gitignore", include_str!("../templates/c/gitignore")),
    ("src/udf.c", include_str!("../templates/c/src/udf.c")),
    ("tests/add_one.sql", include_str!("../templates/c/tests/add_one.sql")),
    ("tests/add_one.out", include_str!("../templates/c/tests/add_one.out")),
];

const JS: Template = &[
    (MANIFEST, include_str!("../templates/js/plugrt.toml")),
    ("README.md", include_str!("../templates/js/README.md")),
    (".gitignore", include_str!("../templates/js/gitignore")),
    ("src/udf.js", include_str!("../templates/js/src/udf.js")),
    ("tests/add_one.sql", include_str!("../templates/js/tests/add_one.sql")),
    ("tests/add_one.out", include_str!("../templates/js/tests/add_one.out")),
];

pub fn run(args: NewArgs) -> Result<(), String> {
    if !valid_name(&args.name) {
        return Err(format!("plugin name `{}` must be 1-64 characters of a-z, 0-9, _ and -", args.name));
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(format!("{} exists and is not empty; pick another folder", dir.display()));
    }
    let template = match args.lang {
        Language::C => C,
        Language::Js => JS,
    };
    for (path, text) in template {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text.replace("{{name}}", &args.name)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("created {} ({} guest) in {}", args.name, args.lang.label(), dir.display());
    println!(
        "next:\n  cd {}\n  plugrt build    # the plugin, into build/\n  plugrt test     # the SQL checks in tests/\n  plugrt dev      # rebuild, reload and rerun on every save",
        dir.display()
    );
    Ok(())
}
