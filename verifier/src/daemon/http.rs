//! The daemon's HTTP side: every `GET` answered from its book, its live runs and its folder
//! ([`super::api`]); `POST /api/runs` starts a run when the daemon allows it, with its token
//! ([`super::start`]). Everything else is refused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telemetry::http::{self as web_http, Answer, Request, Response};
use telemetry::prom;
use tokio::sync::{oneshot, watch};

use super::book::Row;
use super::canary::CanaryStats;
use super::folder::Folder;
use super::start::{self, StartSpec, Token};
use super::{api, Shared};
use crate::error::Error;
use crate::follow::probes::{self, SharedLags};
use crate::follow::Services;
use crate::live::view::Snapshot;
use crate::model::slo::Slo;
use crate::sources::Pg;

/// What the routes read and use.
pub(super) struct Http {
    pub shared: Arc<Mutex<Shared>>,
    pub folder: Folder,
    pub lags: Arc<SharedLags>,
    pub services: Arc<Services>,
    /// Set when runs may be started from the page.
    pub token: Option<Token>,
    /// The canary's figures.
    pub canary: Arc<Mutex<CanaryStats>>,
    /// The objectives runs are judged by.
    pub slo: Slo,
}

/// How long a start waits to learn the new run's id before answering without it.
const START_ANSWER: Duration = Duration::from_secs(5);

/// Binds `addr` and answers there until `stop`; returns the address bound.
pub(super) async fn listen(
    addr: SocketAddr,
    http: Http,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = web_http::bind(addr).await.map_err(Error::Listen)?;
    let addr = listener.local_addr().unwrap_or(addr);
    let http = Arc::new(http);
    let handler = move |req: Request| {
        let http = Arc::clone(&http);
        async move { http.answer(req).await }
    };
    tokio::spawn(web_http::serve_requests(listener, handler, async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    tracing::info!("the runs' page on http://{addr}/, metrics on http://{addr}/metrics");
    Ok(addr)
}

impl Http {
    async fn answer(&self, req: Request) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET" | "HEAD", path) => match self.get(path) {
                Some(r) => (200, r),
                None => web_http::text(404, format!("no such path: {path}\n")),
            },
            ("POST", "/api/runs") => self.start(&req).await,
            _ => web_http::text(
                405,
                "read-only, but for POST /api/runs (starting a run, when allowed)\n",
            ),
        }
    }

    /// A `GET`: the page, the API, the metrics.
    fn get(&self, path: &str) -> Option<Response> {
        let s = self.shared.lock().expect("daemon state");
        let live: Vec<(Row, Arc<Snapshot>)> = s
            .live
            .values()
            .map(|rx| {
                let snap = Arc::clone(&rx.borrow());
                (Row::of_snapshot(&snap), snap)
            })
            .collect();
        let lags = self.lags.get();
        let mut down = probes::down_list(&lags.down);
        // a follow also names the store when it does not answer
        for d in live.iter().flat_map(|(_, snap)| &snap.backlog.down) {
            let part = d.split(" down for").next().unwrap_or(d);
            if !down.iter().any(|known| known.starts_with(part)) {
                down.push(d.clone());
            }
        }
        let parts = lags
            .probed
            .iter()
            .map(|p| (p.clone(), !lags.down.contains_key(p)))
            .collect();
        let view = api::View {
            book: &s.book,
            live,
            down,
            parts,
            canary: self.canary.lock().expect("canary stats").clone(),
            slo: self.slo.clone(),
            start_allowed: self.token.is_some(),
            file: |id, name| self.folder.file(id, name),
        };
        let mut answer = api::route(path, &view);
        if let Some(r) = answer.as_mut().filter(|_| path == "/metrics") {
            prom::heap_in_use(&mut r.body, "verifier", memory::heap_in_use());
        }
        answer
    }

    /// `POST /api/runs`: checks that starting is allowed and the token, then starts the run.
    async fn start(&self, req: &Request) -> Answer {
        let form = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let Some(token) = &self.token else {
            return refused(form, 403, "starting runs from the page is off: start verifier serve with --allow-start (the stack's: VERIFIER_ALLOW_START=1 stack/up.sh)");
        };
        let parsed = start::parse(req.header("content-type"), &req.body);
        let form_token = parsed.as_ref().ok().and_then(|(_, t)| t.as_deref());
        match start::given(req.header("authorization"), form_token) {
            None => return refused(form, 401, "no token: give the daemon's token (its --token-file) in the form or as Authorization: Bearer"),
            Some(t) if !token.matches(t) => {
                tracing::warn!("a run start refused: the token does not match");
                return refused(form, 403, "the token does not match the daemon's (its --token-file; a new one at each start)");
            }
            Some(_) => {}
        }
        match parsed {
            Ok((spec, _)) => self.start_run(spec, form).await,
            Err(e) => refused(form, 400, &e),
        }
    }

    /// Starts `spec` on a connection of its own and answers with the new run's id as soon as
    /// the manifest has it (a bulk run: when it is written), or after [`START_ANSWER`] without.
    async fn start_run(&self, spec: StartSpec, form: bool) -> Answer {
        let pg = &self.services.pg;
        let before = match pg.max_run_id().await {
            Ok(id) => id,
            Err(e) => return refused(form, 503, &e.to_string()),
        };
        let own = match Pg::connect_once(&self.services.endpoints).await {
            Ok(c) => c,
            Err(e) => return refused(form, 503, &e.to_string()),
        };
        tracing::info!(
            "starting a run from the page: {} events, {}",
            spec.events,
            spec.rate
                .map_or("bulk".to_owned(), |r| format!("{r} events/s"))
        );
        let (tx, mut rx) = oneshot::channel();
        tokio::spawn(async move {
            let r = own
                .start_run(spec.events, spec.rate, spec.mix.as_deref(), spec.seed)
                .await;
            if let Err(e) = &r {
                tracing::warn!("the run started from the page failed: {e}");
            }
            let _ = tx.send(r);
        });
        let deadline = Instant::now() + START_ANSWER;
        loop {
            tokio::select! {
                r = &mut rx => return match r {
                    Ok(Ok(Some(id))) => started(form, Some(id)),
                    Ok(Ok(None)) => started(form, pg.run_after(before).await.ok().flatten().map(|r| r.run_id)),
                    Ok(Err(e)) => refused(form, 400, &e),
                    Err(_) => refused(form, 503, "the run's session ended without an answer"),
                },
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Ok(Some(run)) = pg.run_after(before).await {
                        return started(form, Some(run.run_id));
                    }
                    if Instant::now() >= deadline {
                        return started(form, None);
                    }
                }
            }
        }
    }
}

/// A refusal: JSON `{"error": …}`, or for a form a page saying it.
fn refused(form: bool, status: u16, why: &str) -> Answer {
    if form {
        let page = crate::live::web::message_page("The run was not started", why);
        return (status, html(page));
    }
    json(status, serde_json::json!({ "error": why }))
}

/// A run started: `{"run_id": N}` (`null` while a bulk run is still being written), or for a
/// form a page leading to it.
fn started(form: bool, id: Option<i64>) -> Answer {
    if form {
        let page = crate::live::web::started_page(id);
        return (202, html(page));
    }
    json(202, serde_json::json!({ "run_id": id }))
}

fn html(body: String) -> Response {
    api::html_response(body)
}

fn json(status: u16, v: serde_json::Value) -> Answer {
    (status, api::json_response(v.to_string()))
}
