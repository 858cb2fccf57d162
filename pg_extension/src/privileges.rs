//! The rights each writing function needs, checked before anything is written. A role without
//! one gets SQLSTATE 42501 naming what it lacks, and a hint with the exact `GRANT` statements
//! that would let it go ahead, instead of PostgreSQL's bare "permission denied for table runs"
//! halfway through.
//!
//! The functions run with their caller's rights (none is `SECURITY DEFINER`), so the check asks
//! about `current_user`.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgSqlErrorCode;

use crate::error::raise;

/// A right on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Right {
    /// `TABLE` or `SCHEMA`.
    pub kind: &'static str,
    /// Schema-qualified name.
    pub object: &'static str,
    /// `INSERT`, `UPDATE`, `DELETE`, `SELECT`, `USAGE`.
    pub privilege: &'static str,
    /// What the function does with it, for the detail.
    pub why: &'static str,
}

const fn table(object: &'static str, privilege: &'static str, why: &'static str) -> Right {
    Right {
        kind: "TABLE",
        object,
        privilege,
        why,
    }
}

const OUTBOX_SCHEMA: Right = Right {
    kind: "SCHEMA",
    object: "activity",
    privilege: "USAGE",
    why: "to reach the outbox",
};

/// `demo_generate` and `demo_run`.
pub const GENERATE: &[Right] = &[
    OUTBOX_SCHEMA,
    table("activity.event_outbox", "INSERT", "writes the events"),
    table("outbox_demo.runs", "INSERT", "records the run"),
    table("outbox_demo.runs", "UPDATE", "records its progress"),
];

/// `demo_generate` and `demo_run` with `reuse_entities => true`: also reads earlier runs.
pub const GENERATE_REUSING: &[Right] = &[table(
    "activity.event_outbox",
    "SELECT",
    "reads the entities of earlier runs",
)];

/// `demo_stop`.
pub const STOP: &[Right] = &[table("outbox_demo.runs", "UPDATE", "asks the run to stop")];

/// `demo_reset`.
pub const RESET: &[Right] = &[
    OUTBOX_SCHEMA,
    table(
        "activity.event_outbox",
        "SELECT",
        "finds the generated events",
    ),
    table("activity.event_outbox", "DELETE", "deletes them"),
    table("outbox_demo.runs", "DELETE", "empties the run manifest"),
];

/// Checks the rights of a function written in SQL (`demo_stop`, `demo_reset`), which call it
/// first: raises 42501 as [`require`] does. Used by the extension's own functions.
#[pg_schema]
pub mod outbox_demo {
    use super::*;

    /// Raises 42501 when the current role lacks a right `operation` needs.
    #[pg_extern(volatile, parallel_safe)]
    #[search_path(pg_catalog, pg_temp)]
    pub fn check_rights(operation: &str) {
        let needed = match operation {
            "demo_stop" => STOP,
            "demo_reset" => RESET,
            other => error!("outbox_demo: check_rights knows no operation {other:?}"),
        };
        Spi::connect(|client| require(client, operation, needed));
    }
}

/// The SQL spelling of `rights` granted to `role`, one `GRANT` per object and kind.
pub fn grants(rights: &[Right], role: &str) -> String {
    let mut objects: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for r in rights {
        match objects
            .iter_mut()
            .find(|(k, o, _)| *k == r.kind && *o == r.object)
        {
            Some((_, _, privileges)) => privileges.push(r.privilege),
            None => objects.push((r.kind, r.object, vec![r.privilege])),
        }
    }
    objects
        .iter()
        .map(|(kind, object, privileges)| {
            let on = if *kind == "SCHEMA" { "SCHEMA " } else { "" };
            format!("GRANT {} ON {on}{object} TO {role};", privileges.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the current role holds `r`. Objects are found by OID in the catalogs, so asking about
/// a table in a schema the role cannot use is an answer (no), not an error.
fn holds(client: &SpiClient<'_>, r: &Right) -> bool {
    let (schema, name) = r.object.split_once('.').unwrap_or((r.object, ""));
    let query = if r.kind == "SCHEMA" {
        "SELECT has_schema_privilege(n.oid, $3) FROM pg_catalog.pg_namespace n
          WHERE n.nspname = $1 AND $2 = ''"
    } else {
        "SELECT has_table_privilege(c.oid, $3) FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2"
    };
    client
        .select(
            query,
            None,
            &[schema.into(), name.into(), r.privilege.into()],
        )
        .and_then(|t| t.first().get_one::<bool>())
        .unwrap_or_else(|e| error!("outbox_demo: checking the rights on {}: {e}", r.object))
        == Some(true)
}

/// The rights of `needed` that the current role lacks.
fn missing(client: &SpiClient<'_>, needed: &[Right]) -> Vec<Right> {
    needed
        .iter()
        .copied()
        .filter(|r| !holds(client, r))
        .collect()
}

/// Raises 42501 when the current role lacks any of `needed` for `operation`. Never writes.
pub fn require(client: &SpiClient<'_>, operation: &str, needed: &[Right]) {
    let lacking = missing(client, needed);
    if lacking.is_empty() {
        return;
    }
    let role = client
        .select("SELECT quote_ident(current_user::text)", None, &[])
        .and_then(|t| t.first().get_one::<String>())
        .ok()
        .flatten()
        .unwrap_or_else(|| "current_user".into());
    let list = lacking
        .iter()
        .map(|r| {
            format!(
                "{} on {} {} ({})",
                r.privilege,
                r.kind.to_lowercase(),
                r.object,
                r.why
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("permission denied: {operation} needs rights that role {role} lacks"),
        format!("Role {role} lacks {list}. Nothing was written."),
        &format!(
            "A superuser or the objects' owner can grant them: {}",
            grants(&lacking, &role)
        ),
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_hint_grants_each_object_once() {
        assert_eq!(
            grants(GENERATE, "dba"),
            "GRANT USAGE ON SCHEMA activity TO dba; GRANT INSERT ON activity.event_outbox TO dba; GRANT INSERT, UPDATE ON outbox_demo.runs TO dba;"
        );
        assert_eq!(
            grants(RESET, "\"Ops\""),
            "GRANT USAGE ON SCHEMA activity TO \"Ops\"; GRANT SELECT, DELETE ON activity.event_outbox TO \"Ops\"; GRANT DELETE ON outbox_demo.runs TO \"Ops\";"
        );
    }
}
