//! Receipts from a consumer's metrics file (`--receipts metrics-file:PATH`): the file is read
//! from its start and tailed while it grows; each batch of complete lines is parsed
//! ([`crate::model::metrics_line`]), its events looked up in the outbox (the run's only: a line of
//! another run is counted, not joined) and handed to the follow loop as receipts. A file that
//! does not exist yet is waited for; one that is replaced (another inode) or truncated is read
//! again from its start. A malformed line is counted and named, never skipped silently.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::mpsc;

use super::receipts::Answer;
use crate::model::join::{Receipt, ReceiptStamps};
use crate::model::metrics_line::{self, MetricsLine};
use crate::model::receipt_source::{FileTally, NAMED};
use crate::sources::{Pg, SourceError};

/// Lines looked up in the outbox at once.
const BATCH: usize = 5_000;
/// How often a file at its end is looked at again.
const TAIL_EVERY: Duration = Duration::from_millis(50);
/// How long a line whose event the outbox does not have (yet) is looked up again before it is
/// counted as of no run of this one: a commit can reach Kafka, the consumer and its file before
/// the verifier's session sees it.
const NOT_VISIBLE_FOR: Duration = Duration::from_secs(30);
/// How often lines still waiting are looked up again while no new line comes.
const LOOK_AGAIN_EVERY: Duration = Duration::from_millis(250);

/// Shared between the tail and the report.
pub(crate) type Tally = Arc<Mutex<FileTally>>;

/// The open file and where the read is.
struct Open {
    reader: BufReader<tokio::fs::File>,
    inode: u64,
    read_bytes: u64,
    line_no: u64,
    partial: Vec<u8>,
}

/// Tails `path` until the follow loop is gone, sending the run's receipts to `got`.
pub(crate) async fn tail(
    path: PathBuf,
    pg: Pg,
    run_id: i64,
    got: mpsc::Sender<Answer>,
    tally: Tally,
) {
    let result = tail_loop(&path, &pg, run_id, &got, &tally).await;
    if let Err(e) = result {
        let _ = got.send(Err(e)).await;
    }
}

async fn tail_loop(
    path: &Path,
    pg: &Pg,
    run_id: i64,
    got: &mpsc::Sender<Answer>,
    tally: &Tally,
) -> Result<(), SourceError> {
    let mut open: Option<Open> = None;
    let mut first = true;
    let mut waiting = Waiting::default();
    loop {
        let Some(file) = open.as_mut() else {
            open = reopen(path, &mut first, tally).await?;
            if open.is_none() {
                tokio::time::sleep(TAIL_EVERY).await;
            }
            continue;
        };
        let lines = read_lines(file, path).await?;
        if lines.is_empty() && waiting.lines.is_empty() {
            if replaced(path, file).await {
                tally.lock().expect("tally").reopened += 1;
                tracing::info!(
                    "metrics file {}: replaced or truncated; reading the new one from its start",
                    path.display()
                );
                open = None;
            } else {
                tokio::time::sleep(TAIL_EVERY).await;
            }
            continue;
        }
        let parsed = parse(&lines, tally);
        let receipts = resolve(pg, run_id, parsed, &mut waiting, tally).await?;
        if lines.is_empty() && receipts.is_empty() {
            tokio::time::sleep(LOOK_AGAIN_EVERY).await; // only lines still waiting
        }
        if !receipts.is_empty() && got.send(Ok(receipts)).await.is_err() {
            return Ok(()); // following ended
        }
        if got.is_closed() {
            return Ok(());
        }
    }
}

/// Lines whose event the outbox did not have yet, with when they were first looked up.
#[derive(Default)]
struct Waiting {
    lines: Vec<(std::time::Instant, MetricsLine)>,
}

/// Opens the file; `None` while it does not exist.
async fn reopen(path: &Path, first: &mut bool, tally: &Tally) -> Result<Option<Open>, SourceError> {
    let failed = |source| SourceError::MetricsFile {
        path: path.to_owned(),
        source,
    };
    match tokio::fs::File::open(path).await {
        Ok(f) => {
            let inode = f.metadata().await.map_err(failed)?.ino();
            *first = false;
            Ok(Some(Open {
                reader: BufReader::new(f),
                inode,
                read_bytes: 0,
                line_no: 0,
                partial: Vec::new(),
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::mem::take(first) {
                tally.lock().expect("tally").created_late = true;
                tracing::info!(
                    "metrics file {}: not there yet; waiting for the consumer to create it",
                    path.display()
                );
            }
            Ok(None)
        }
        Err(e) => Err(failed(e)),
    }
}

/// Complete lines available now, at most [`BATCH`], numbered; a line still being written stays
/// for the next read.
async fn read_lines(f: &mut Open, path: &Path) -> Result<Vec<(u64, Vec<u8>)>, SourceError> {
    let mut out = Vec::new();
    while out.len() < BATCH {
        let n = f
            .reader
            .read_until(b'\n', &mut f.partial)
            .await
            .map_err(|source| SourceError::MetricsFile {
                path: path.to_owned(),
                source,
            })?;
        f.read_bytes += n as u64;
        if f.partial.last() != Some(&b'\n') {
            break; // at the end: nothing more, or a line not finished yet
        }
        f.line_no += 1;
        let mut line = std::mem::take(&mut f.partial);
        line.pop();
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.push((f.line_no, line));
        }
    }
    Ok(out)
}

/// Whether the path now names another file, or a shorter one than what was read.
async fn replaced(path: &Path, f: &Open) -> bool {
    match tokio::fs::metadata(path).await {
        Ok(m) => m.ino() != f.inode || m.len() < f.read_bytes,
        Err(_) => false, // gone for now: keep reading what is open
    }
}

/// Parses `lines` and counts them; a malformed one is counted and named.
fn parse(lines: &[(u64, Vec<u8>)], tally: &Tally) -> Vec<MetricsLine> {
    let mut parsed = Vec::with_capacity(lines.len());
    let mut t = tally.lock().expect("tally");
    t.lines += lines.len() as u64;
    for (no, raw) in lines {
        let result = std::str::from_utf8(raw)
            .map_err(|_| "not UTF-8".to_owned())
            .and_then(metrics_line::parse);
        match result {
            Ok(m) => parsed.push(m),
            Err(problem) => malformed(&mut t, *no, &problem),
        }
    }
    parsed
}

/// Looks `parsed` and the lines still waiting up in the outbox: the run's events become
/// receipts; other runs' are counted; an event found nowhere waits to be looked up again, for
/// [`NOT_VISIBLE_FOR`] at most, then counts as of no run of this one.
async fn resolve(
    pg: &Pg,
    run_id: i64,
    parsed: Vec<MetricsLine>,
    waiting: &mut Waiting,
    tally: &Tally,
) -> Result<Vec<Receipt>, SourceError> {
    let now = std::time::Instant::now();
    let mut all = std::mem::take(&mut waiting.lines);
    all.extend(parsed.into_iter().map(|m| (now, m)));
    let ids: Vec<uuid::Uuid> = all.iter().map(|(_, m)| m.event_id).collect();
    let (of_run, of_others) = pg.events_by_id(run_id, &ids).await?;
    let mut receipts = Vec::with_capacity(of_run.len());
    let mut others = 0;
    for (since, m) in all {
        if let Some(e) = of_run.get(&m.event_id) {
            receipts.push(Receipt {
                seq: e.seq,
                event_type: e.event_type,
                stamps: ReceiptStamps {
                    t_sched: e.t_sched,
                    t0: e.t0,
                    t2: m.t2,
                },
                t3: Some(m.t3),
                t5: m.t5,
            });
        } else if of_others.contains(&m.event_id) || since.elapsed() >= NOT_VISIBLE_FOR {
            others += 1;
        } else {
            waiting.lines.push((since, m));
        }
    }
    let mut t = tally.lock().expect("tally");
    t.of_this_run += receipts.len() as u64;
    t.of_other_runs += others;
    Ok(receipts)
}

fn malformed(t: &mut FileTally, line_no: u64, problem: &str) {
    if t.malformed == 0 {
        tracing::warn!(
            "metrics file: line {line_no}: {problem} (counted; the report names the first {NAMED})"
        );
    }
    t.malformed += 1;
    if t.malformed_lines.len() < NAMED {
        t.malformed_lines.push(format!("line {line_no}: {problem}"));
    }
}
