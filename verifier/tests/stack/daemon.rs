//! `verifier serve`, the daemon, on the real stack: it follows runs written from SQL sessions
//! (two at once), survives `kill -9` mid-run, and reports each run exactly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use e2e::wait::{self, Step};
use e2e::Scratch;
use tokio::process::Child;

use super::GENEROUS_SLO;

/// How long a run may take to be reported, on a slow machine.
const REPORTED: Duration = Duration::from_secs(180);

/// A started daemon: its process, the address it serves, its log.
struct Daemon {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Daemon {
    /// `verifier serve` on a port the OS picks, its folder of runs `runs`, its log `log`.
    async fn start(st: &Scratch, runs: &Path, log: &Path) -> anyhow::Result<Self> {
        Self::start_with(st, runs, log, &[]).await
    }

    /// The same with `extra` arguments.
    async fn start_with(
        st: &Scratch,
        runs: &Path,
        log: &Path,
        extra: &[&std::ffi::OsStr],
    ) -> anyhow::Result<Self> {
        let ready = st.dir.join("daemon.ready");
        let _ = std::fs::remove_file(&ready); // a restart must not read its predecessor's
        let slo = st.dir.join("slo.json");
        std::fs::write(&slo, GENEROUS_SLO)?;
        let child = st
            .command("verifier")?
            .args(["serve", "--listen", "127.0.0.1:0", "--idle-timeout", "15"])
            .arg("--runs-dir")
            .arg(runs)
            .arg("--ready-file")
            .arg(&ready)
            .arg("--slo")
            .arg(&slo)
            .arg("--log-file")
            .arg(log)
            .args(extra)
            .env("LOG_LEVEL", "INFO")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting verifier serve")?;
        let addr = e2e::wait_ready_addr(&ready, "http").await?;
        Ok(Self {
            child,
            addr,
            log: log.to_owned(),
        })
    }

    /// The body of `GET path`.
    async fn get(&self, path: &str) -> anyhow::Result<String> {
        let text = e2e::http_get(&self.addr, path).await?;
        Ok(text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default())
    }

    /// Run `id` as `/api/runs/N` shows it once it has a verdict (its report.json).
    async fn reported(&self, id: i64) -> anyhow::Result<serde_json::Value> {
        let path = format!("/api/runs/{id}");
        wait::until(
            &format!("run {id} reported by the daemon"),
            REPORTED,
            || async {
                let body = self.get(&path).await?;
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let done = v.get("verdict").is_some_and(|v| !v.is_null());
                Ok(Step::when(done, v.clone(), || {
                    format!("{} ({})", v["state"], v["row"])
                }))
            },
        )
        .await
        .with_context(|| std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

/// A finished run's report says every event it wrote was verified, nothing missing, nothing
/// applied twice, and its counts equal the outbox's rows and the store's receipts.
async fn exact(st: &Scratch, report: &serde_json::Value) -> anyhow::Result<()> {
    let id = report["run"]["run_id"].as_i64().context("run_id")?;
    let rows: i64 = st
        .pg
        .query_one(
            "SELECT count(*) FROM activity.event_outbox WHERE run_id = $1",
            &[&id],
        )
        .await?
        .get(0);
    let c = &report["counts"];
    assert_eq!(report["verdict"], "pass", "run {id}: {report}");
    for key in ["expected", "kafka", "receipts", "matched"] {
        assert_eq!(c[key].as_i64(), Some(rows), "run {id}: counts.{key}: {c}");
    }
    assert_eq!(c["receipts"].as_u64(), Some(st.receipts(id).await?));
    let i = &report["integrity"];
    assert_eq!(i["missing_total"], 0, "run {id}: {i}");
    assert_eq!(i["applied_twice"], 0, "run {id}: {i}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_daemon_follows_two_sessions_runs_and_a_kill_9_mid_run() -> anyhow::Result<()> {
    let st = Scratch::new("daemon").await?;
    let _processor = st.processor("a", &[])?;
    let runs = st.dir.join("runs");
    let mut first = Daemon::start(&st, &runs, &st.dir.join("daemon-1.log")).await?;
    // A run finished before the kill is not followed again after it.
    let before = st.generate(200).await?;
    exact(&st, &first.reported(before).await?).await?;
    // Two sessions at once: a rate run (5 s of events) and, while it writes, a bulk run.
    let rate = st.start_rate_run(2_000, 400.0).await?;
    let bulk = st.generate(1_000).await?;
    // Mid-run: the daemon has verified some of the rate run, which is still writing.
    let live = format!("/api/runs/{}", rate.run_id);
    wait::until("the daemon verifying the rate run", REPORTED, || async {
        let v: serde_json::Value =
            serde_json::from_str(&first.get(&live).await?).unwrap_or_default();
        let matched = v["row"]["matched"].as_u64().unwrap_or(0);
        Ok(Step::when(matched > 0, (), || format!("{v}")))
    })
    .await?;
    first.child.kill().await?; // SIGKILL: no report, no cleanup
    let (status, written) = st.run_status(rate.run_id).await?;
    assert_eq!(
        status, "running",
        "killed after the run ended ({written} written): proves nothing"
    );
    assert!(
        !runs
            .join(format!("run-{}/summary.json", rate.run_id))
            .exists(),
        "the killed daemon finished the rate run"
    );
    let second = Daemon::start(&st, &runs, &st.dir.join("daemon-2.log")).await?;
    rate.call.await??;
    exact(&st, &second.reported(rate.run_id).await?).await?;
    exact(&st, &second.reported(bulk).await?).await?;
    let log = std::fs::read_to_string(&second.log)?;
    assert!(
        !log.contains(&format!("run {before}: following")),
        "the restarted daemon followed finished run {before} again:\n{log}"
    );
    exact(
        &st,
        &serde_json::from_str(&second.get(&format!("/api/runs/{before}")).await?)?,
    )
    .await?;
    let list: Vec<serde_json::Value> = serde_json::from_str(&second.get("/api/runs").await?)?;
    let ids: Vec<i64> = list.iter().filter_map(|r| r["run_id"].as_i64()).collect();
    assert!(
        ids.contains(&rate.run_id) && ids.contains(&bulk),
        "/api/runs lists {ids:?}"
    );
    let metrics = second.get("/metrics").await?;
    assert!(
        e2e::metric_sum(&metrics, "verifier_events_verified_total") >= 3_200.0,
        "{metrics}"
    );
    for (file, id) in [("report.html", bulk), ("end_to_end.hlog", rate.run_id)] {
        let path = runs.join(format!("run-{id}/{file}"));
        assert!(path.exists(), "{} missing", path.display());
    }
    Ok(())
}

/// The browsers the page is tested in (Debian's packages), the script that drives them and where
/// it keeps their screenshots.
const BROWSERS: [(&str, &str); 2] = [
    ("chromium", "/usr/bin/chromium"),
    ("firefox", "/usr/bin/firefox-esr"),
];

fn browser_script() -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    anyhow::ensure!(
        dir.join("node_modules/puppeteer-core").exists()
            && BROWSERS.iter().all(|(_, path)| Path::new(path).exists()),
        "the browser test needs Debian's chromium and firefox-esr and {}/node_modules: run stack/install.sh",
        dir.display()
    );
    let shots = e2e::target_tmp().join("web-screenshots");
    Ok((dir.join("page.mjs"), shots))
}

/// `POST /api/runs` as a script sends it: the status line and the body.
async fn post(d: &Daemon, headers: &[&str], body: &str) -> anyhow::Result<(String, String)> {
    let text = e2e::http_request(&d.addr, "POST", "/api/runs", headers, body).await?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    ))
}

/// Starting runs is refused without the token, with a wrong one, and with bad figures; every
/// other write is refused.
async fn refusals(d: &Daemon, token: &str) -> anyhow::Result<()> {
    let json = "Content-Type: application/json";
    let (status, body) = post(d, &[json], r#"{"events": 100}"#).await?;
    assert!(status.contains(" 401 "), "no token: {status} {body}");
    let (status, _) = post(
        d,
        &[json, "Authorization: Bearer nottheone"],
        r#"{"events": 100}"#,
    )
    .await?;
    assert!(status.contains(" 403 "), "a wrong token: {status}");
    let bearer = format!("Authorization: Bearer {token}");
    let (status, body) = post(d, &[json, &bearer], r#"{"events": 0}"#).await?;
    assert!(
        status.contains(" 400 ") && body.contains("events = 0"),
        "{status} {body}"
    );
    let put = e2e::http_request(&d.addr, "PUT", "/", &[], "x").await?;
    assert!(put.starts_with("HTTP/1.1 405"), "{put}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh), Chromium and Firefox (stack/install.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_page_in_a_real_browser_live_then_finished_and_a_run_started_from_it(
) -> anyhow::Result<()> {
    let (script, shots) = browser_script()?;
    let st = Scratch::new("web").await?;
    let _processor = st.processor("a", &[])?;
    let token_file = st.dir.join("secrets/start.token");
    let log = st.dir.join("daemon.log");
    let args = [
        "--allow-start".as_ref(),
        "--token-file".as_ref(),
        token_file.as_os_str(),
    ];
    let mut d = Daemon::start_with(&st, &st.dir.join("runs"), &log, &args).await?;
    let token = std::fs::read_to_string(&token_file)?;
    refusals(&d, &token).await?;
    let finished = st.generate(300).await?;
    exact(&st, &d.reported(finished).await?).await?;
    // 20 s of events: each browser finds the run live, sees it move, and sees it end. Both
    // browsers look at once, each starting a run of its own from the form.
    let rate = st.start_rate_run(4_000, 200.0).await?;
    let _ = std::fs::remove_dir_all(&shots);
    let mut browsers = Vec::new();
    for (name, _) in BROWSERS {
        let run = tokio::process::Command::new("node")
            .arg(&script)
            .arg(name)
            .arg(format!("http://{}", d.addr))
            .arg(finished.to_string())
            .arg(rate.run_id.to_string())
            .arg(shots.join(name))
            .arg(&token_file)
            .status();
        browsers.push((name, tokio::spawn(run)));
    }
    rate.call.await??;
    for (name, run) in browsers {
        let status = run
            .await?
            .context("starting node (Node.js is needed for the browser test)")?;
        anyhow::ensure!(
            status.success(),
            "the page in {name}: {status} (its lines above; screenshots so far in {})",
            shots.join(name).display()
        );
    }
    exact(&st, &d.reported(rate.run_id).await?).await?;
    let last = e2e::max_run_id(&st.pg).await?;
    let from_page: Vec<i64> = (rate.run_id + 1..=last).collect();
    assert_eq!(
        from_page.len(),
        BROWSERS.len(),
        "one run started from each browser's form"
    );
    for run in from_page {
        exact(&st, &d.reported(run).await?).await?;
    }
    for (name, _) in BROWSERS {
        for shot in [
            "runs.png",
            "live.png",
            "live-done.png",
            "report.png",
            "started.png",
        ] {
            let path = shots.join(name).join(shot);
            assert!(path.exists(), "{} missing", path.display());
        }
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", d.child.id().context("pid")?))?;
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(&token),
        "the token in the daemon's command line"
    );
    d.child.kill().await?;
    let logged = std::fs::read_to_string(&log)?;
    assert!(!logged.contains(&token), "the token in the daemon's log");
    assert!(
        logged.contains("starting a run from the page: 200 events, bulk"),
        "{logged}"
    );
    eprintln!("screenshots of the page in {}", shots.display());
    Ok(())
}

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each expression of the alerting rules (a rule with its annotations) and of the dashboard (a
/// query with its legend), with where it is.
fn shipped_expressions() -> anyhow::Result<Vec<(String, String)>> {
    let rules = std::fs::read_to_string(repo().join("docs/prometheus/alerts.yml"))?;
    let mut out: Vec<(String, String)> = rules
        .split("- alert: ")
        .skip(1)
        .map(|rule| {
            (
                format!("alerts.yml: {}", rule.lines().next().unwrap_or("")),
                rule.to_owned(),
            )
        })
        .collect();
    let dash: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        repo().join("docs/grafana/dashboard.json"),
    )?)?;
    for panel in dash["panels"].as_array().context("dashboard panels")? {
        for t in panel["targets"].as_array().into_iter().flatten() {
            out.push((
                format!("dashboard.json: {}", panel["title"]),
                format!("{} {}", t["expr"].as_str().unwrap_or(""), t["legendFormat"]),
            ));
        }
    }
    Ok(out)
}

/// `promtool ARGS` in docs/prometheus (stack/install.sh puts promtool in .stack/bin).
fn promtool(args: &[&str]) -> anyhow::Result<()> {
    let bin = repo().join(".stack/bin/promtool");
    let out = std::process::Command::new(&bin)
        .args(args)
        .current_dir(repo().join("docs/prometheus"))
        .output()
        .with_context(|| format!("running {} (stack/install.sh installs it)", bin.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "promtool {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh) and promtool (stack/install.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_canary_keeps_runs_flowing_and_serves_every_metric_the_rules_and_dashboard_name(
) -> anyhow::Result<()> {
    promtool(&["check", "rules", "alerts.yml"])?;
    promtool(&["test", "rules", "alerts.test.yml"])?;
    let st = Scratch::new("canary").await?;
    let processor = st.processor("a", &[])?;
    let before = e2e::max_run_id(&st.pg).await?;
    let log = st.dir.join("daemon.log");
    let args = ["--canary-rate", "50", "--canary-window-s", "5"].map(std::ffi::OsStr::new);
    let mut d = Daemon::start_with(&st, &st.dir.join("runs"), &log, &args).await?;
    // The canary's first run is written with nobody asking, and verified exactly.
    let first = wait::until("the canary's first run", REPORTED, || async {
        let id = e2e::run_after(&st.pg, before).await?;
        Ok(Step::when(id.is_some(), id.unwrap_or(0), || {
            "none yet".into()
        }))
    })
    .await?;
    exact(&st, &d.reported(first).await?).await?;
    // It goes on: a second window, and the time of the last verified event.
    let metrics = wait::until("a second canary window", REPORTED, || async {
        let m = d.get("/metrics").await?;
        let windows = e2e::metric_sum(&m, "verifier_canary_windows_total ");
        let verified = m.contains("\nverifier_last_verified_timestamp_seconds ");
        Ok(Step::when(windows >= 2.0 && verified, m.clone(), || {
            format!("{windows} windows, last verified shown: {verified}")
        }))
    })
    .await?;
    let last = e2e::metric_sum(&metrics, "verifier_last_verified_timestamp_seconds ");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    assert!(
        (now.as_secs_f64() - last).abs() < 120.0,
        "last verified {last}, now {}",
        now.as_secs_f64()
    );
    assert_eq!(e2e::metric_sum(&metrics, "verifier_canary_rate "), 50.0);
    assert_eq!(
        e2e::metric_sum(&metrics, "verifier_canary_failures_total "),
        0.0
    );
    for part in ["postgresql", "kafka", "connect", "store"] {
        let line = format!("verifier_part_up{{part=\"{part}\",");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&line) && l.ends_with(" 1")),
            "{part} not up:\n{metrics}"
        );
    }
    // Every metric and label the shipped rules and dashboard use is served, by the daemon or
    // the processor.
    let mut served = e2e::promql::Exposition::default();
    served.add(&metrics);
    let addr = processor.listen_addr().await?;
    served.add(&e2e::http_get(&addr, "/metrics").await?);
    let mut missing = Vec::new();
    for (at, expr) in shipped_expressions()? {
        let refs = e2e::promql::refs(&expr, &["verifier_", "processor_"]);
        missing.extend(
            served
                .missing(&refs)
                .into_iter()
                .map(|m| format!("{at}: {m}")),
        );
    }
    assert!(
        missing.is_empty(),
        "not on /metrics:\n{}",
        missing.join("\n")
    );
    // SIGTERM stops the canary with its window cut short: no run left writing.
    let (exit, _) = e2e::scratch::sigterm(&mut d.child).await?;
    assert!(exit.success(), "{exit}");
    let newest = e2e::max_run_id(&st.pg).await?;
    wait::until(
        "the canary's last run no longer running",
        Duration::from_secs(30),
        || async {
            let status: String = st
                .pg
                .query_one(
                    "SELECT status FROM outbox_demo.run_status WHERE run_id = $1",
                    &[&newest],
                )
                .await?
                .get(0);
            Ok(Step::when(status != "running", (), || status.clone()))
        },
    )
    .await?;
    let logged = std::fs::read_to_string(&log)?;
    assert!(logged.contains("canary: stopped"), "{logged}");
    Ok(())
}
