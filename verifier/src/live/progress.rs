//! Progress without a terminal: a line on stderr every second while anything changes (every
//! 10 s while nothing does, as during the audit), and the last one when following is done.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::live::view::{progress_line, Phase, Snapshot};

/// Prints progress lines until the snapshot says `done` or its sender is gone.
pub(crate) fn spawn(mut rx: watch::Receiver<Arc<Snapshot>>) -> JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || {
        let mut last: Option<(Arc<Snapshot>, Instant)> = None;
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let s = rx.borrow_and_update().clone();
            let quiet = last.as_ref().is_some_and(|(prev, at)| {
                Arc::ptr_eq(prev, &s) && at.elapsed() < Duration::from_secs(10)
            });
            if s.run.run_id != 0 && !quiet {
                eprintln!("{}", progress_line(&s));
                last = Some((Arc::clone(&s), Instant::now()));
            }
            if s.phase == Phase::Done || rx.has_changed().is_err() {
                return Ok(());
            }
        }
    })
}
