//! A minimal HTTP/1.1 server: read-only `GET` endpoints (`/metrics`, `/status`) with [`serve`],
//! and any method with a handler that sees the whole request with [`serve_requests`].
//!
//! One request per connection, answered and closed; enough for Prometheus, `curl`, a browser and
//! the tests, without a web framework in the build. Binds where it is told (127.0.0.1 by default
//! in both binaries).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// What a route answers: content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

/// A request as a handler sees it: method, path (without the query string), headers (names in
/// lower case) and body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes, at most [`MAX_BODY`]).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (lower case), if given.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The largest body read; a longer one is answered 413.
pub const MAX_BODY: usize = 64 * 1024;

/// A status and a response.
pub type Answer = (u16, Response);

/// A plain-text answer.
pub fn text(status: u16, body: impl Into<String>) -> Answer {
    (
        status,
        Response {
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        },
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Parses a listen address given as `host:port`, or `off` (or empty) for none. `flag` names
/// the flag and its variable in the error, `example` is a valid value.
pub fn parse_listen(value: &str, flag: &str, example: &str) -> Result<Option<SocketAddr>, String> {
    match value {
        "off" | "" => Ok(None),
        a => a
            .parse()
            .map(Some)
            .map_err(|_| format!("{flag} = {a:?} is not host:port (e.g. {example}) or off")),
    }
}

/// Binds `addr`. The error names the address, so a port already in use is obvious.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} for HTTP: {e} (is another instance running?)"),
        )
    })
}

/// Serves `GET` requests on `listener` until `shutdown` completes. `route` maps a path (without
/// query string) to a response, or `None` for 404; any other method is answered 405.
pub async fn serve<R, S>(listener: TcpListener, route: R, shutdown: S)
where
    R: Fn(&str) -> Option<Response> + Send + Sync + 'static,
    S: Future<Output = ()>,
{
    let handler = move |req: Request| {
        let answer = if req.method != "GET" && req.method != "HEAD" {
            text(405, "only GET\n")
        } else {
            match route(&req.path) {
                Some(r) => (200, r),
                None => text(404, format!("no such path: {}\n", req.path)),
            }
        };
        std::future::ready(answer)
    };
    serve_requests(listener, handler, shutdown).await;
}

/// Serves every request on `listener` with `handler` until `shutdown` completes.
pub async fn serve_requests<H, F, S>(listener: TcpListener, handler: H, shutdown: S)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Answer> + Send,
    S: Future<Output = ()>,
{
    let handler = Arc::new(handler);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("HTTP accept failed: {e}");
                    continue;
                }
            },
        };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let result =
                tokio::time::timeout(Duration::from_secs(15), handle(stream, handler.as_ref()))
                    .await;
            if let Ok(Err(e)) = result {
                tracing::debug!("HTTP connection: {e}");
            }
        });
    }
}

/// Reads one request: its head, then `Content-Length` bytes of body. `Err(413)` when the body
/// is longer than [`MAX_BODY`].
async fn read_request(stream: &mut tokio::net::TcpStream) -> std::io::Result<Result<Request, u16>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            break buf.len();
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut req = Request {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or("").to_owned(),
        headers,
        body: buf[head_end..].to_vec(),
    };
    let length: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Ok(Err(413));
    }
    while req.body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        req.body.extend_from_slice(&chunk[..n]);
    }
    req.body.truncate(length);
    Ok(Ok(req))
}

async fn handle<H, F>(mut stream: tokio::net::TcpStream, handler: &H) -> std::io::Result<()>
where
    H: Fn(Request) -> F,
    F: Future<Output = Answer>,
{
    let (head_only, (status, r)) = match read_request(&mut stream).await? {
        Ok(req) => (req.method == "HEAD", handler(req).await),
        Err(status) => (false, text(status, "the body is too long\n")),
    };
    let mut response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        reason(status),
        r.content_type,
        r.body.len()
    );
    if !head_only {
        response.push_str(&r.body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_routes_404s_and_rejects_other_methods() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            |path| {
                (path == "/status").then(|| Response {
                    content_type: "application/json",
                    body: "{\"ok\":true}".to_owned(),
                })
            },
            async {
                let _ = rx.await;
            },
        ));
        let ok = get(addr, "GET /status?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Length: 11\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\n{\"ok\":true}"), "{ok}");
        let missing = get(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404 Not Found"), "{missing}");
        let post = get(addr, "POST /status HTTP/1.1\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        tx.send(()).unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_handler_sees_method_headers_and_body() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_requests(
            listener,
            |req: Request| async move {
                let said = format!(
                    "{} {} {:?} {}",
                    req.method,
                    req.path,
                    req.header("authorization"),
                    String::from_utf8_lossy(&req.body)
                );
                text(202, said)
            },
            async {
                let _ = rx.await;
            },
        ));
        let body = "{\"events\": 10}";
        let post = get(
            addr,
            &format!("POST /api/start?x=1 HTTP/1.1\r\nAuthorization: Bearer t0k\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 202 Accepted\r\n"), "{post}");
        assert!(
            post.ends_with("POST /api/start Some(\"Bearer t0k\") {\"events\": 10}"),
            "{post}"
        );
        let long = get(
            addr,
            &format!(
                "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY + 1
            ),
        )
        .await;
        assert!(long.starts_with("HTTP/1.1 413"), "{long}");
        tx.send(()).unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_port_in_use_is_named() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
