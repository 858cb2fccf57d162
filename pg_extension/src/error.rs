//! User errors: `ERROR` with a SQLSTATE, a detail and a hint, raised before anything is written.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// Raises `ERROR` with SQLSTATE 22023 (invalid_parameter_value). Never returns.
pub fn invalid_argument(message: String, detail: String, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message,
        detail,
        hint,
    )
}

/// Raises `ERROR` with the given SQLSTATE, detail and hint. Never returns.
pub fn raise(code: PgSqlErrorCode, message: String, detail: String, hint: &str) -> ! {
    ErrorReport::new(code, message, "outbox_demo")
        .set_detail(detail)
        .set_hint(hint)
        .report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) does not return")
}
