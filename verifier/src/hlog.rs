//! HdrHistogram interval logs (`.hlog`, log format 1.3), one per stage: every second of
//! observation, each stage's interval histogram is compressed (V2 + deflate, base64) into one
//! line and reset. Values are µs; `Interval_Max` is in ms. Readable with HdrHistogram's
//! `HistogramLogProcessor` and HdrHistogram.js.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use base64::Engine as _;
use events::stages::PerStage;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

use crate::join::Join;

/// The logs being written, in memory until [`Logs::write`].
pub(crate) struct Logs {
    started: Instant,
    last: f64,
    lines: PerStage<String>,
    serializer: V2DeflateSerializer,
    buf: Vec<u8>,
}

impl Logs {
    /// Empty logs whose time 0 is now, `start_epoch_s` seconds since the epoch.
    pub(crate) fn new(start_epoch_s: f64) -> Self {
        let header = format!(
            "#[Histogram log format version 1.3]\n#[StartTime: {start_epoch_s:.3} (seconds since epoch)]\n#[Values in microseconds; Interval_Max in milliseconds]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
        );
        Self {
            started: Instant::now(),
            last: 0.0,
            lines: PerStage::from_fn(|_| header.clone()),
            serializer: V2DeflateSerializer::new(),
            buf: Vec::new(),
        }
    }

    /// Ends an interval: appends each stage's interval histogram (when it has samples) and
    /// resets it.
    pub(crate) fn take(&mut self, join: &mut Join) {
        let now = self.started.elapsed().as_secs_f64();
        for (stage, h) in join.measurements.stages.iter_mut() {
            let h = &mut h.interval;
            if h.is_empty() {
                continue;
            }
            self.buf.clear();
            match self.serializer.serialize(h, &mut self.buf) {
                Ok(_) => {
                    let _ = writeln!(
                        self.lines[stage],
                        "{:.3},{:.3},{:.3},{}",
                        self.last,
                        now - self.last,
                        h.max() as f64 / 1000.0,
                        base64::engine::general_purpose::STANDARD.encode(&self.buf)
                    );
                }
                // The samples stay in the run's histograms and the report; only this interval's
                // line of the log is missing, and the log says so.
                Err(e) => tracing::warn!(
                    "{stage}.hlog: the interval at {:.3} s ({} samples) could not be encoded: {e}",
                    self.last,
                    h.len()
                ),
            }
            h.reset();
        }
        self.last = now;
    }

    /// Writes `<stage>.hlog` for every stage into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (stage, text) in self.lines.iter() {
            std::fs::write(dir.join(format!("{stage}.hlog")), text)?;
        }
        Ok(())
    }
}
