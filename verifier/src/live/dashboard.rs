//! The live dashboard (ratatui). [`render`] is a pure function of a [`Snapshot`]; [`run`] owns
//! the terminal, redraws every 250 ms, and ends when following is done or on `q` / Esc.

use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;
use tokio::sync::watch;

use crate::live::view::{Phase, Snapshot};

/// A figure in ms, or `-` when the stage has no sample.
fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
    }
}

/// A backlog figure, or `unknown` when its probe has none (never shown as 0).
fn known<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("unknown".into(), |v| v.to_string())
}

/// Draws the dashboard for `s` into `area`.
pub(crate) fn render(f: &mut Frame<'_>, s: &Snapshot) {
    let [header, gauge, middle, latency, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Min(6),
    ])
    .areas(f.area());
    let r = &s.run;
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(" run {} ", r.run_id),
                Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
            Span::raw(format!(
                " {}{} mode · target {} events{} · elapsed {:.1} s · {} · q quits",
                if s.label.is_empty() {
                    String::new()
                } else {
                    format!("{} · ", s.label)
                },
                r.mode,
                s.expected,
                r.rate.map(|x| format!(" at {x}/s")).unwrap_or_default(),
                s.elapsed_s,
                s.phase
            )),
        ])),
        header,
    );
    let ratio = if s.expected == 0 {
        0.0
    } else {
        (s.matched as f64 / s.expected as f64).clamp(0.0, 1.0)
    };
    f.render_widget(
        Gauge::default()
            .gauge_style(Style::default().fg(Color::Green))
            .ratio(ratio)
            .label(format!(
                "{}/{} verified ({:.1}%)",
                s.matched,
                s.expected,
                ratio * 100.0
            )),
        gauge,
    );
    let [tput, backlog] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(middle);
    render_throughput(f, tput, s);
    render_backlog(f, backlog, s);
    render_latency(f, latency, s);
    let [types, recent] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    render_types(f, types, s);
    render_recent(f, recent, s);
}

fn render_throughput(f: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let block = Block::default().borders(Borders::ALL).title(" Throughput ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [text, spark] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "Kafka {:>8.1} ev/s   MongoDB {:>8.1} ev/s",
                s.kafka_per_s, s.done_per_s
            )),
            Line::from(format!(
                "on Kafka {} (+{} dup) · in MongoDB {}",
                s.on_kafka, s.kafka_duplicates, s.receipts
            )),
        ]),
        text,
    );
    f.render_widget(
        Sparkline::default()
            .data(&s.done_history)
            .style(Style::default().fg(Color::Cyan)),
        spark,
    );
}

fn render_backlog(f: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let b = &s.backlog;
    let lines = vec![
        Line::from(format!(
            "replication slot   {:>10} bytes",
            known(b.slot_lag_bytes)
        )),
        Line::from(format!("not yet on Kafka   {:>10} events", b.not_on_kafka)),
        Line::from(format!(
            "processor lag      {:>10} records",
            known(b.processor_lag)
        )),
        Line::from(format!(
            "awaiting MongoDB   {:>10} events",
            b.awaiting_receipt
        )),
        Line::from(format!(
            "oldest unmatched   {:>10}",
            b.oldest_unmatched_s
                .map_or("-".into(), |a| format!("{a:.1} s"))
        )),
    ];
    let mut lines = lines;
    for d in &b.down {
        lines.push(Line::styled(
            format!("DOWN: {d}"),
            ratatui::style::Style::default().fg(ratatui::style::Color::Red),
        ));
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Backlog ")),
        area,
    );
}

/// The stage legend: what `t2`, the boundary between publish and queue, is.
fn t2_legend(kind: &str) -> &'static str {
    match kind {
        "log_append_time" => "T2 = broker append",
        "create_time" => "T2 = producer create (CreateTime)",
        "none" => "no Kafka timestamps",
        "mixed" => "T2 mixed: append and create times",
        _ => "T2 not seen yet",
    }
}

fn render_latency(f: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let block = Block::default().borders(Borders::ALL).title(format!(
        " Latency per stage (ms) · {} · sparkline: end-to-end p99 per second ",
        t2_legend(&s.t2_kind)
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [table, spark] =
        Layout::horizontal([Constraint::Length(62), Constraint::Min(10)]).areas(inner);
    let rows = s.stages.iter().map(|st| {
        Row::new(vec![
            Cell::from(st.name.clone()),
            Cell::from(st.count.to_string()),
            Cell::from(ms(st.p50_ms)),
            Cell::from(ms(st.p95_ms)),
            Cell::from(ms(st.p99_ms)),
            Cell::from(ms(st.max_ms)),
            Cell::from(st.skewed.to_string()),
        ])
    });
    let widths = [
        Constraint::Length(11),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(6),
    ];
    f.render_widget(
        Table::new(rows, widths).header(
            Row::new(["stage", "count", "p50", "p95", "p99", "max", "skew"])
                .style(Style::default().add_modifier(Modifier::BOLD)),
        ),
        table,
    );
    f.render_widget(
        Sparkline::default()
            .data(&s.p99_history)
            .style(Style::default().fg(Color::Yellow)),
        spark,
    );
}

fn render_types(f: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let rows = s.by_type.iter().map(|t| {
        Row::new(vec![
            Cell::from(t.name.clone()),
            Cell::from(t.count.to_string()),
            Cell::from(ms(t.p50_ms)),
            Cell::from(ms(t.p99_ms)),
        ])
    });
    let widths = [
        Constraint::Length(18),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(
                Row::new(["event type", "count", "p50", "p99"])
                    .style(Style::default().add_modifier(Modifier::BOLD)),
            )
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" End to end by event type (ms) "),
            ),
        area,
    );
}

fn render_recent(f: &mut Frame<'_>, area: Rect, s: &Snapshot) {
    let lines: Vec<Line<'_>> = s
        .recent
        .iter()
        .rev()
        .map(|e| {
            Line::from(format!(
                "seq {:>8}  {:<18} {:>9.2} ms",
                e.seq, e.event_type, e.end_to_end_ms
            ))
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Recent events "),
        ),
        area,
    );
}

/// Owns the terminal until following is done (the snapshot's phase is `done` or the sender is
/// gone) or the user presses `q` / Esc (then `stop` is set).
pub(crate) fn run(
    mut rx: watch::Receiver<Arc<Snapshot>>,
    stop: watch::Sender<bool>,
) -> std::io::Result<()> {
    let mut terminal = ratatui::init();
    let result = (|| loop {
        let s = rx.borrow_and_update().clone();
        terminal.draw(|f| render(f, &s))?;
        if s.phase == Phase::Done || rx.has_changed().is_err() {
            return Ok(());
        }
        if event::poll(Duration::from_millis(250))? {
            if let Event::Key(k) = event::read()? {
                if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                    let _ = stop.send(true);
                    return Ok(());
                }
            }
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::view::Backlog;
    use crate::model::join::Recent;
    use crate::model::manifest::{RunInfo, RunMode, RunStatus};
    use crate::model::measure::StageSummary;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn snapshot() -> Snapshot {
        let stage = |name: &str, count, p50| StageSummary {
            name: name.into(),
            count,
            p50_ms: Some(p50),
            p95_ms: Some(p50 * 2.0),
            p99_ms: Some(p50 * 3.0),
            max_ms: Some(p50 * 4.0),
            ..StageSummary::default()
        };
        Snapshot {
            run: RunInfo {
                run_id: 42,
                mode: RunMode::Bulk,
                status: RunStatus::Completed,
                n: 1000,
                written: 1000,
                ..RunInfo::default()
            },
            elapsed_s: 12.5,
            phase: Phase::Following,
            expected: 1000,
            on_kafka: 900,
            kafka_duplicates: 2,
            receipts: 500,
            matched: 500,
            done_per_s: 250.0,
            kafka_per_s: 400.0,
            stages: vec![
                stage("commit", 900, 0.5),
                stage("capture", 900, 12.0),
                stage("publish", 900, 1.0),
                stage("queue", 500, 3.0),
                stage("process", 500, 2.0),
                stage("end_to_end", 500, 20.0),
            ],
            by_type: vec![
                stage("UserCreated", 250, 18.0),
                stage("ActivityCreated", 150, 21.0),
            ],
            done_history: vec![100, 200, 250],
            p99_history: vec![60, 61],
            backlog: Backlog {
                slot_lag_bytes: Some(4096),
                processor_lag: Some(400),
                not_on_kafka: 100,
                awaiting_receipt: 400,
                unmatched: 500,
                oldest_unmatched_s: Some(1.5),
                down: vec![],
            },
            recent: vec![Recent {
                seq: 500,
                event_type: "UserCreated".into(),
                end_to_end_ms: 19.25,
                t5: 0,
            }],
            skewed: 0,
            t2_kind: "log_append_time".into(),
            label: String::new(),
            seconds: Default::default(),
            last_verified_us: None,
            buckets: None,
        }
    }

    fn lines(s: &Snapshot) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(110, 30)).unwrap();
        t.draw(|f| render(f, s)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_panel_shows_its_figures() {
        let l = lines(&snapshot());
        let expect = [
            (0, " run 42  bulk mode · target 1000 events · elapsed 12.5 s · following · q quits"),
            (3, "│Kafka    400.0 ev/s   MongoDB    250.0 ev/s          ││replication slot         4096 bytes                  │"),
            (4, "│on Kafka 900 (+2 dup) · in MongoDB 500               ││not yet on Kafka          100 events                 │"),
            (7, "│███                                                  ││oldest unmatched        1.5 s                        │"),
            (10, "│stage      count    p50      p95      p99      max      skew  ▆█                                            │"),
            (11, "│commit     900      0.50     1.00     1.50     2.00     0     ██                                            │"),
            (16, "│end_to_end 500      20.0     40.0     60.0     80.0     0     ██                                            │"),
            (20, "│event type         count    p50      p99             ││seq      500  UserCreated            19.25 ms        │"),
            (21, "│UserCreated        250      18.0     54.0            ││                                                     │"),
        ];
        for (i, want) in expect {
            assert_eq!(l[i], want, "line {i}");
        }
        assert!(
            l[1].ends_with("500/1000 verified (50.0%)") && l[1].starts_with("████"),
            "{}",
            l[1]
        );
        assert!(
            l[2].contains(" Throughput ") && l[2].contains(" Backlog "),
            "{}",
            l[2]
        );
        assert!(
            l[5].contains("processor lag             400 records"),
            "{}",
            l[5]
        );
        assert!(
            l[9].contains(" Latency per stage (ms) · T2 = broker append · sparkline"),
            "{}",
            l[9]
        );
        assert!(
            l[19].contains(" End to end by event type (ms) ") && l[19].contains(" Recent events "),
            "{}",
            l[19]
        );
    }

    #[test]
    fn an_empty_run_renders_dashes_and_unknowns_not_zeros() {
        let mut s = snapshot();
        for st in &mut s.stages {
            st.count = 0;
            (st.p50_ms, st.p95_ms, st.p99_ms, st.max_ms) = (None, None, None, None);
        }
        s.backlog.slot_lag_bytes = None;
        let l = lines(&s);
        assert!(
            l[11].starts_with("│commit     0        -        -        -        -        0"),
            "{}",
            l[11]
        );
        assert!(
            l[3].contains("│replication slot      unknown bytes"),
            "{}",
            l[3]
        );
    }
}
