//! Keeps pgrx's schema section in the extension's shared library.
//!
//! `cargo pgrx install` adds `-C link-arg=-Wl,--no-gc-sections` to every crate's rustflags, so
//! that the linker keeps the `.pgrxsc` section the SQL schema is read from. Rustflags belong to
//! every crate's fingerprint: the build of the pgrx test binary (plain `cargo test`, no such
//! flag) and the build of the library then recompiled the whole dependency tree for each other.
//! Here the flag reaches the link of the shared library only, and cargo-pgrx is run with
//! `CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1` (`cargo_pgrx` in stack/lib.sh).

fn main() {
    // Run again only when this file changes (by default, on any change in the package).
    println!("cargo::rerun-if-changed=build.rs");
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // cargo-pgrx's own condition: GNU-ld-like linkers (macOS's and Windows' know no such flag).
    if family == "unix" && os != "macos" {
        println!("cargo::rustc-cdylib-link-arg=-Wl,--no-gc-sections");
    }
}
