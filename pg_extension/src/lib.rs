//! `outbox_demo`: a PostgreSQL extension (pgrx 0.18.1, PostgreSQL 15) that writes realistic,
//! referentially consistent events into `activity.event_outbox` from inside the database.
//!
//! Thin glue over `crates/datagen`. Status: only [`outbox_demo_version`] exists; the generator
//! (`demo_generate`, `demo_run`, …) lands with the `outbox_demo` issue.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

/// The version of the installed extension library (the crate version), so a DBA can tell
/// which build PostgreSQL loaded: `SELECT outbox_demo_version();`.
#[pg_extern(immutable, parallel_safe)]
pub fn outbox_demo_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn version_matches_the_installed_extension() {
        let from_sql = Spi::get_one::<String>("SELECT outbox_demo_version()")
            .expect("SPI")
            .expect("not null");
        let catalog = Spi::get_one::<String>(
            "SELECT extversion FROM pg_extension WHERE extname = 'outbox_demo'",
        )
        .expect("SPI")
        .expect("extension is installed");
        assert_eq!(from_sql, env!("CARGO_PKG_VERSION"));
        assert_eq!(catalog, from_sql);
    }
}

/// Required by `cargo pgrx test`: hooks for the temporary test cluster.
#[cfg(test)]
pub mod pg_test {
    /// One-off set-up when the test framework starts.
    pub fn setup(_options: Vec<&str>) {}

    /// postgresql.conf settings the tests need.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
