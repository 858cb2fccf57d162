//! The last minute of observation for the live views: receipts per second, the end-to-end p99
//! of each second, and the rates over the last 5 s. Each second it also closes an interval of
//! the `.hlog` interval logs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::stages::Stage;

use crate::live::view::{Live, Seconds};
use crate::model::join::Join;
use crate::report::hlog::Logs;
use crate::report::LatencySecond;

/// Seconds of history kept for the sparklines.
const SECONDS: usize = 60;

/// What the live views show of the recent past.
#[derive(Debug)]
pub(crate) struct History {
    started: Instant,
    done: VecDeque<u64>,
    p99: VecDeque<u64>,
    last_receipts: u64,
    recent: VecDeque<(Instant, u64, u64)>,
    last_kafka: u64,
    /// Every second since following began, for the report's chart and the live page's.
    seconds: Arc<Seconds>,
}

fn push_bounded(q: &mut VecDeque<u64>, v: u64) {
    if q.len() == SECONDS {
        q.pop_front();
    }
    q.push_back(v);
}

impl History {
    /// Empty, starting now.
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            done: VecDeque::new(),
            p99: VecDeque::new(),
            last_receipts: 0,
            recent: VecDeque::new(),
            last_kafka: 0,
            seconds: Arc::default(),
        }
    }

    /// Since following began.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Closes one second: keeps its receipts and end-to-end p99, and hands each stage's
    /// interval histogram to the interval logs.
    pub(crate) fn tick(&mut self, join: &mut Join, logs: &mut Logs) {
        let c = join.counts();
        push_bounded(&mut self.done, c.receipts - self.last_receipts);
        self.last_receipts = c.receipts;
        let e2e = &join.measurements.stages[Stage::EndToEnd].interval;
        let p99 = if e2e.is_empty() {
            0
        } else {
            e2e.value_at_quantile(0.99) / 1000
        };
        push_bounded(&mut self.p99, p99);
        let ms = |q: f64| (!e2e.is_empty()).then(|| e2e.value_at_quantile(q) as f64 / 1000.0);
        let seconds = Arc::make_mut(&mut self.seconds);
        seconds.latency.push(LatencySecond {
            at_s: chrono::Utc::now().timestamp_micros() as f64 / 1e6,
            count: e2e.len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
        });
        seconds.kafka.push(c.kafka - self.last_kafka);
        self.last_kafka = c.kafka;
        logs.take(join);
    }

    /// End to end of every second so far.
    pub(crate) fn per_second(&self) -> Vec<LatencySecond> {
        self.seconds.latency.clone()
    }

    /// The figures for a snapshot now; `rates`: with the rates of the last 5 s (else 0).
    pub(crate) fn live(&mut self, join: &Join, rates: bool) -> Live {
        let (kafka_per_s, done_per_s) = if rates { self.rates(join) } else { (0.0, 0.0) };
        Live {
            elapsed_s: self.elapsed().as_secs_f64(),
            kafka_per_s,
            done_per_s,
            done_history: self.done.iter().copied().collect(),
            p99_history: self.p99.iter().copied().collect(),
            seconds: Arc::clone(&self.seconds),
        }
    }

    /// Events per second reaching Kafka and receipted, over the last 5 s.
    fn rates(&mut self, join: &Join) -> (f64, f64) {
        let now = Instant::now();
        let c = join.counts();
        self.recent.push_back((now, c.kafka, c.receipts));
        while self
            .recent
            .front()
            .is_some_and(|(t, ..)| now.duration_since(*t) > Duration::from_secs(5))
        {
            self.recent.pop_front();
        }
        let (t, k, r) = self.recent[0];
        let dt = now.duration_since(t).as_secs_f64();
        if dt < 0.2 {
            return (0.0, 0.0);
        }
        ((c.kafka - k) as f64 / dt, (c.receipts - r) as f64 / dt)
    }
}
