//! HdrHistogram interval logs (`.hlog`, log format 1.3), one per stage: every second of
//! observation, each stage's interval histogram is compressed (V2 + deflate, base64) into one
//! line and reset. Values are µs; `Interval_Max` is in ms. Readable with HdrHistogram's
//! `HistogramLogProcessor` and HdrHistogram.js.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use base64::Engine as _;
use events::stages::PerStage;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::model::join::Join;

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

/// One interval of a log read back: when it started (seconds since the epoch), its length and
/// its histogram.
#[derive(Debug)]
pub(crate) struct Interval {
    pub(crate) start_s: f64,
    pub(crate) length_s: f64,
    pub(crate) histogram: Histogram<u64>,
}

/// The intervals of a log this module wrote; an error names the line that cannot be read.
pub(crate) fn read(text: &str) -> Result<Vec<Interval>, String> {
    let mut origin = None;
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |what: &str| format!("line {}: {what}", i + 1);
        if let Some(rest) = line.strip_prefix("#[StartTime: ") {
            let s = rest.split_whitespace().next().unwrap_or("");
            origin = Some(
                s.parse::<f64>()
                    .map_err(|_| bad("a StartTime that is no number"))?,
            );
            continue;
        }
        if line.starts_with('#') || line.starts_with('"') || line.trim().is_empty() {
            continue;
        }
        let origin = origin.ok_or_else(|| bad("an interval before the StartTime line"))?;
        let mut f = line.splitn(4, ',');
        let mut num = |what: &str| {
            f.next()
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| bad(what))
        };
        let (start, length) = (num("no start")?, num("no length")?);
        num("no maximum")?;
        let encoded = f.next().ok_or_else(|| bad("no histogram"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| bad(&format!("a histogram that is not base64: {e}")))?;
        let histogram = de
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| bad(&format!("a histogram that cannot be decoded: {e:?}")))?;
        out.push(Interval {
            start_s: origin + start,
            length_s: length,
            histogram,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_reads_back_with_its_times_and_samples() {
        let mut h = events::stages::latency_histogram();
        for us in [1_000, 2_000, 250_000] {
            h.record(us).unwrap();
        }
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
        let line = base64::engine::general_purpose::STANDARD.encode(&buf);
        let text = format!(
            "#[Histogram log format version 1.3]\n#[StartTime: 1000.500 (seconds since epoch)]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n2.000,1.001,250.000,{line}\n"
        );
        let got = read(&text).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].start_s, got[0].length_s), (1002.5, 1.001));
        assert_eq!(got[0].histogram.len(), 3);
        assert_eq!(got[0].histogram.max(), h.max());
        let broken = text.replace(&line, "not base64!");
        assert!(read(&broken)
            .unwrap_err()
            .starts_with("line 4: a histogram that is not base64"));
    }
}
