//! The Prometheus text exposition format (version 0.0.4), written by hand: a counter, a gauge
//! and a cumulative histogram are all this project exposes, and owning the encoder keeps the
//! output exact and testable.

use std::fmt::Write as _;

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Appends one sample line: `name{labels} value`.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    write_labels(out, labels);
    let _ = writeln!(out, " {}", format_value(value));
}

/// Appends a whole family: its `# HELP` and `# TYPE` lines, then one sample per
/// `(labels, value)`.
pub fn family<'a>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, f64)>,
) {
    header(out, name, kind, help);
    for (labels, v) in samples {
        sample(out, name, &labels, v);
    }
}

/// Appends a family of one unlabelled sample.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    family(out, name, kind, help, [(Vec::new(), value)]);
}

/// Appends `{prefix}_heap_in_use_bytes`, the process's heap in use (`memory::heap_in_use`),
/// when the allocator tells it: beside the process's RSS it tells a leak from memory the
/// allocator keeps.
pub fn heap_in_use(out: &mut String, prefix: &str, bytes: Option<u64>) {
    let Some(bytes) = bytes else { return };
    single(
        out,
        &format!("{prefix}_heap_in_use_bytes"),
        "gauge",
        "Bytes allocated and not freed (glibc's mallinfo2: chunks in use plus mapped blocks). RSS above it is memory the allocator keeps, not a leak.",
        bytes as f64,
    );
}

fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape_label(v));
    }
    out.push('}');
}

fn format_value(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

/// A cumulative histogram with fixed upper bounds, in the unit of its observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Non-cumulative counts per bucket; the last one is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// A histogram with the given upper bounds (ascending); `+Inf` is implied.
    pub fn new(bounds: &[f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds must ascend");
        Self {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    /// Adds observations counted elsewhere against the same bounds: `counts` has one entry per
    /// bucket, not cumulative, the last above every bound; `sum` is theirs.
    pub fn add(&mut self, counts: &[u64], sum: f64) {
        assert_eq!(
            counts.len(),
            self.counts.len(),
            "counts against other bounds"
        );
        for (mine, c) in self.counts.iter_mut().zip(counts) {
            *mine += c;
        }
        self.sum += sum;
        self.count += counts.iter().sum::<u64>();
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines (no header).
    pub fn write(&self, out: &mut String, name: &str, labels: &[(&str, &str)]) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format_value(*b));
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            sample(out, &bucket, &with_le, cumulative as f64);
        }
        sample(out, &format!("{name}_sum"), labels, self.sum);
        sample(out, &format!("{name}_count"), labels, self.count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_counters_with_escaped_labels() {
        let mut out = String::new();
        header(&mut out, "x_total", "counter", "Things.\nMore");
        sample(&mut out, "x_total", &[("reason", "bad \"json\"")], 3.0);
        sample(&mut out, "x_ratio", &[], 0.25);
        assert_eq!(
            out,
            "# HELP x_total Things.\\nMore\n# TYPE x_total counter\n\
             x_total{reason=\"bad \\\"json\\\"\"} 3\nx_ratio 0.25\n"
        );
    }

    #[test]
    fn the_heap_is_a_gauge_named_for_its_process_and_absent_when_unknown() {
        let mut out = String::new();
        heap_in_use(&mut out, "processor", None);
        assert_eq!(out, "");
        heap_in_use(&mut out, "processor", Some(1_048_576));
        assert!(
            out.contains("# TYPE processor_heap_in_use_bytes gauge\n"),
            "{out}"
        );
        assert!(
            out.ends_with("\nprocessor_heap_in_use_bytes 1048576\n"),
            "{out}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_inclusive() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 1.0, 2.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.write(&mut out, "lat", &[("stage", "queue")]);
        assert_eq!(
            out,
            "lat_bucket{stage=\"queue\",le=\"1\"} 2\n\
             lat_bucket{stage=\"queue\",le=\"5\"} 3\n\
             lat_bucket{stage=\"queue\",le=\"+Inf\"} 4\n\
             lat_sum{stage=\"queue\"} 12.5\n\
             lat_count{stage=\"queue\"} 4\n"
        );
        assert_eq!(h.count(), 4);
    }
}
