//! A minimal HTTP/1.1 server for read-only `GET` endpoints (`/metrics`, `/status`).
//!
//! One request per connection, answered and closed; enough for Prometheus, `curl` and the tests,
//! without a web framework in the build. Binds where it is told (127.0.0.1 by default in both
//! binaries).

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
/// query string) to a response, or `None` for 404.
pub async fn serve<R, S>(listener: TcpListener, route: R, shutdown: S)
where
    R: Fn(&str) -> Option<Response> + Send + Sync + 'static,
    S: Future<Output = ()>,
{
    let route = Arc::new(route);
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
        let route = Arc::clone(&route);
        tokio::spawn(async move {
            let result =
                tokio::time::timeout(Duration::from_secs(5), handle(stream, route.as_ref())).await;
            if let Ok(Err(e)) = result {
                tracing::debug!("HTTP connection: {e}");
            }
        });
    }
}

async fn handle<R>(mut stream: tokio::net::TcpStream, route: &R) -> std::io::Result<()>
where
    R: Fn(&str) -> Option<Response>,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        )
    } else {
        match route(path) {
            Some(r) => ("200 OK", r.content_type, r.body),
            None => (
                "404 Not Found",
                "text/plain",
                format!("no such path: {path}\n"),
            ),
        }
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
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
    async fn a_port_in_use_is_named() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
