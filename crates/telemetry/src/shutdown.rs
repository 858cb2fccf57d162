//! The one way both binaries learn that they should stop: SIGINT (Ctrl-C) or SIGTERM.

/// Completes on the first SIGINT or SIGTERM. Where a handler cannot be installed, that is logged
/// and the other signal still stops; without either the process still stops on the default
/// action of both.
pub async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        (Ok(mut only), Err(e)) | (Err(e), Ok(mut only)) => {
            tracing::warn!(
                "cannot listen for one of SIGINT and SIGTERM ({e}); the other still stops"
            );
            only.recv().await;
        }
        (Err(e), Err(_)) => {
            tracing::warn!("cannot listen for SIGINT or SIGTERM ({e}); their default action still stops the process");
            std::future::pending::<()>().await;
        }
    }
}
