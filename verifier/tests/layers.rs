//! The verifier's layers, as `src/lib.rs` lists them: a module may use only its own layer's
//! folder and the layers below it. Reads the sources (every `crate::name` they write, in code
//! or in a doc link); needs no service (the unit tier).

use std::path::{Path, PathBuf};

/// Each top-level module and its layer, lowest first (`lib.rs`'s list). Modules of one layer
/// may not use each other.
const LAYERS: &[(&str, u32)] = &[
    ("model", 0),
    ("report", 1),
    ("live", 2),
    ("soak", 2),
    ("sources", 2),
    ("error", 3),
    ("follow", 4),
    ("daemon", 5),
    ("lag", 5),
    ("capacity", 6),
    ("cli", 7),
    ("config", 8),
    ("logging", 9),
    ("run", 10),
];

/// What `lib.rs` re-exports at the crate's root, and the module each comes from.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Config", "config"),
    ("Error", "error"),
    ("Verdict", "report"),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ reads").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules `text` names as `crate::name`.
fn uses(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .filter(|(at, _)| !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(at, _)| {
            let name: String = text[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            ROOT_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(name, |(_, m)| (*m).to_owned())
        })
        .collect()
}

/// What is wrong with `module` using `used`, if anything.
fn wrong(module: &str, used: &str) -> Option<String> {
    if used == module {
        return None;
    }
    let (Some(from), Some(to)) = (layer(module), layer(used)) else {
        return Some(format!("{module} or {used} is in no layer of LAYERS"));
    };
    (to >= from).then(|| format!("{module} (layer {from}) uses {used} (layer {to})"))
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut bad = Vec::new();
    let mut checked = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src/");
        let first = rel.components().next().expect("a path").as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("a source reads");
        for used in uses(&text) {
            checked += 1;
            if let Some(why) = wrong(&module, &used) {
                bad.push(format!("{}: {why}", rel.display()));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        checked > 100,
        "only {checked} uses found: is the walk right?"
    );
    assert!(bad.is_empty(), "layers crossed:\n{}", bad.join("\n"));
}

#[test]
fn the_rule_names_a_use_of_a_layer_above_or_beside() {
    assert_eq!(
        uses("use crate::model::join; x(crate::Error::from)"),
        ["model", "error"]
    );
    assert_eq!(wrong("follow", "model"), None);
    assert_eq!(wrong("follow", "follow"), None);
    assert_eq!(
        wrong("model", "report").as_deref(),
        Some("model (layer 0) uses report (layer 1)")
    );
    assert!(wrong("live", "sources").is_some(), "one layer, two folders");
    assert!(wrong("nowhere", "model").is_some());
}

#[test]
fn every_folder_and_file_of_src_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&src).expect("src/ reads").flatten() {
        let name = e
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if !["lib", "main"].contains(&name.as_str()) && layer(&name).is_none() {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "in no layer of LAYERS: {missing:?}");
}
