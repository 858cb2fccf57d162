//! Every relative link of the repository's Markdown resolves: the file (or folder) exists, and
//! an anchor names a heading of the page it points into. Needs no service (the unit tier).

use std::path::{Path, PathBuf};

use e2e::markdown::{anchors, links};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The repository's pages: every `*.md` but those of builds, installs and dependencies.
fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p.is_dir() {
            if !(name.starts_with('.') || ["target", "node_modules"].contains(&&*name)) {
                pages(&p, out);
            }
        } else if name.ends_with(".md") {
            out.push(p);
        }
    }
}

/// What is wrong with one link of `page`, if anything.
fn broken(page: &Path, text: &str, target: (&str, &str)) -> Option<String> {
    let (path, anchor) = target;
    let (dest, dest_text) = if path.is_empty() {
        (page.to_path_buf(), text.to_owned())
    } else {
        let dest = page.parent()?.join(path);
        if !dest.exists() {
            return Some(format!("{} does not exist", dest.display()));
        }
        let t = if dest.extension().is_some_and(|e| e == "md") {
            std::fs::read_to_string(&dest).ok()?
        } else {
            String::new()
        };
        (dest, t)
    };
    let checkable = dest.extension().is_some_and(|e| e == "md");
    (checkable && !anchor.is_empty() && !anchors(&dest_text).contains(anchor))
        .then(|| format!("{} has no heading #{anchor}", dest.display()))
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = repo();
    let mut all = Vec::new();
    pages(&root, &mut all);
    assert!(
        all.iter().any(|p| p.ends_with("README.md")),
        "no README.md under {}",
        root.display()
    );
    let mut bad = Vec::new();
    let mut checked = 0;
    for page in &all {
        let text = std::fs::read_to_string(page).expect("a page reads");
        for l in links(&text).into_iter().filter(|l| !l.is_external()) {
            checked += 1;
            if let Some(why) = broken(page, &text, l.parts()) {
                let at = page.strip_prefix(&root).unwrap_or(page).display();
                bad.push(format!("{at}:{}: ({}) {why}", l.line, l.target));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the walk right?"
    );
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}
