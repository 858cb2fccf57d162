//! Settings of the extension, under the reserved prefix `outbox_demo.`.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `outbox_demo.max_events`: the most events one call may write (default 10,000,000). Only a
/// superuser may raise it: it bounds what any caller can make the database write in one call.
pub static MAX_EVENTS: GucSetting<i32> = GucSetting::<i32>::new(10_000_000);

/// Registers the settings; called once per backend from `_PG_init`.
pub fn register() {
    GucRegistry::define_int_guc(
        c"outbox_demo.max_events",
        c"The most events one demo_generate or demo_run call may write.",
        c"Bounds what any caller can make the database write in one call. Superuser only.",
        &MAX_EVENTS,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
}
