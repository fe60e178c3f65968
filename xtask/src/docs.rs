//! `cargo xtask docs`: the book (mdBook, installed into `.tools/mdbook` from crates.io on first
//! use) and the API docs of every crate (`cargo doc --no-deps`, rustdoc warnings are errors)
//! rendered into one site under `target/site/`: the book at its root, the API docs under
//! `api/`. Then two checks that fail the command: every `{{#include}}` of the book names a
//! file (and anchor) that exists, and every relative link of a book page leads to a file of
//! the site.

use std::path::{Component, Path, PathBuf};

use xshell::{Shell, cmd};

use crate::{Result, project_root, step};

/// mdBook from crates.io, without its `serve` and `watch` features (no web server to build).
const MDBOOK_VERSION: &str = "0.5.4";

/// Where the site lands.
pub fn site_dir() -> PathBuf {
    project_root().join("target/site")
}

pub fn run(sh: &Shell) -> Result {
    let mdbook = install_mdbook(sh)?;
    let root = project_root();
    let site = site_dir();
    step("checking the book's includes");
    check_includes(&root.join("docs/src"))?;
    step("mdbook build");
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    let book = root.join("docs");
    cmd!(sh, "{mdbook} build {book} --dest-dir {site}").run()?;
    step("cargo doc --workspace --no-deps (warnings are errors)");
    {
        let _flags = sh.push_env("RUSTDOCFLAGS", "-D warnings");
        cmd!(sh, "cargo doc --workspace --no-deps --locked --exclude xtask").run()?;
    }
    copy_dir(&root.join("target/doc"), &site.join("api"))?;
    step("checking the site's links");
    let pages = check_links(&site)?;
    println!("site: {} ({pages} book pages, API docs under api/)", site.join("index.html").display());
    Ok(())
}

/// The mdbook binary, installed into `.tools/mdbook` unless the right version is there.
fn install_mdbook(sh: &Shell) -> Result<PathBuf> {
    let root = project_root().join(".tools/mdbook");
    let bin = root.join("bin/mdbook");
    let installed = cmd!(sh, "{bin} --version").quiet().ignore_stderr().read().unwrap_or_default();
    if !installed.contains(MDBOOK_VERSION) {
        step(&format!("installing mdbook {MDBOOK_VERSION} into .tools/mdbook (crates.io)"));
        cmd!(
            sh,
            "cargo install mdbook --version {MDBOOK_VERSION} --locked --no-default-features --features search --root {root}"
        )
        .run()?;
    }
    Ok(bin)
}

/// Every `{{#include PATH}}` / `{{#include PATH:ANCHOR}}` (also `#rustdoc_include`) of the
/// book's sources names an existing file, and the anchor exists in it.
fn check_includes(src: &Path) -> Result {
    let mut broken = Vec::new();
    for page in files(src, "md")? {
        let text = std::fs::read_to_string(&page)?;
        let pieces: Vec<&str> = text.split("{{#").collect();
        for (before, directive) in pieces.iter().zip(&pieces[1..]) {
            // `\{{#include ...}}` is mdBook's escape: shown, not included.
            if before.ends_with('\\') {
                continue;
            }
            let Some(end) = directive.find("}}") else { continue };
            let directive = directive[..end].trim();
            let Some(target) = directive
                .strip_prefix("include ")
                .or_else(|| directive.strip_prefix("rustdoc_include "))
                .map(str::trim)
            else {
                continue;
            };
            let (file, anchor) = match target.split_once(':') {
                Some((file, anchor)) if !anchor.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                    (file, Some(anchor))
                }
                Some((file, _lines)) => (file, None),
                None => (target, None),
            };
            let path = page.parent().expect("a page is in a folder").join(file);
            let where_ = format!("{}: {{{{#{directive}}}}}", page.strip_prefix(src).unwrap_or(&page).display());
            match std::fs::read_to_string(&path) {
                Err(e) => broken.push(format!("{where_}: {}: {e}", path.display())),
                Ok(content) => {
                    if let Some(anchor) = anchor
                        && !content.contains(&format!("ANCHOR: {anchor}"))
                    {
                        broken.push(format!("{where_}: no `ANCHOR: {anchor}` in {}", path.display()));
                    }
                }
            }
        }
    }
    if broken.is_empty() { Ok(()) } else { Err(format!("broken includes:\n{}", broken.join("\n")).into()) }
}

/// Every relative `href`/`src` of the book's pages (the HTML files at the site's root) leads
/// to a file of the site. Returns how many pages were checked.
fn check_links(site: &Path) -> Result<usize> {
    let mut broken = Vec::new();
    let mut pages = 0;
    for page in std::fs::read_dir(site)? {
        let page = page?.path();
        if page.extension().is_none_or(|e| e != "html") {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&page)?;
        for attribute in ["href=\"", "src=\""] {
            for rest in html.split(attribute).skip(1) {
                let Some(link) = rest.split('"').next() else { continue };
                // Relative links only: `/...` depends on where the site is served from.
                let elsewhere = link.contains("://") || link.starts_with("mailto:") || link.starts_with('/');
                if link.is_empty() || link.starts_with('#') || elsewhere {
                    continue;
                }
                let file = link.split(['#', '?']).next().unwrap_or_default();
                if file.is_empty() {
                    continue;
                }
                let target = normalize(&site.join(file));
                let exists = target.is_file() || target.join("index.html").is_file();
                if !exists || !target.starts_with(site) {
                    let name = page.file_name().unwrap_or_default().to_string_lossy();
                    broken.push(format!("{name}: {link}"));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    if pages == 0 {
        return Err(format!("no book pages in {}", site.display()).into());
    }
    if broken.is_empty() { Ok(pages) } else { Err(format!("broken links in the book:\n{}", broken.join("\n")).into()) }
}

/// `a/b/../c` as `a/c` (without touching the file system).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Files under `dir` (recursively) with this extension.
fn files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files(&path, extension)?);
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    Ok(found)
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-docs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_missing_include_or_anchor_is_reported() {
        let dir = scratch("includes");
        std::fs::write(dir.join("code.rs"), "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n").unwrap();
        std::fs::write(
            dir.join("good.md"),
            "{{#include code.rs}}\n{{#include code.rs:here}}\n{{#include code.rs:2:3}}",
        )
        .unwrap();
        check_includes(&dir).unwrap();
        std::fs::write(dir.join("bad.md"), "{{#include missing.rs}}\n{{#include code.rs:nowhere}}").unwrap();
        let error = check_includes(&dir).unwrap_err().to_string();
        assert!(error.contains("missing.rs") && error.contains("ANCHOR: nowhere"), "{error}");
    }

    #[test]
    fn a_broken_relative_link_is_reported() {
        let site = scratch("links");
        std::fs::create_dir_all(site.join("api/plugrt")).unwrap();
        std::fs::write(site.join("api/plugrt/index.html"), "").unwrap();
        std::fs::write(
            site.join("index.html"),
            r##"<a href="api/plugrt/index.html">x</a><a href="https://x.org">y</a><a href="#top">z</a><a href="index.html#a">w</a>"##,
        )
        .unwrap();
        assert_eq!(check_links(&site).unwrap(), 1);
        std::fs::write(site.join("other.html"), r#"<a href="api/nothing/index.html">x</a><img src="../outside.png">"#)
            .unwrap();
        let error = check_links(&site).unwrap_err().to_string();
        assert!(error.contains("api/nothing/index.html") && error.contains("../outside.png"), "{error}");
    }
}
