//! A plain HTTP server on a loopback address for the fetch-policy suites: it serves a secret
//! (as a cloud metadata service would), files, redirects a test sets up, bodies of any size with
//! or without `Content-Length`, and a request that never gets an answer; it records every path
//! it was asked for, so a suite can show a refused URL was never requested.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What `/latest/meta-data/secret` answers: what must never reach a Discord channel.
pub const SECRET: &str = "aws_secret_access_key=FAKE/metadata/secret/for/the/tests";

#[derive(Default)]
struct Inner {
    hits: Vec<String>,
    redirects: HashMap<String, (StatusCode, String)>,
}

#[derive(Default)]
struct Shared(Mutex<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running server; it stops when dropped.
///
/// Routes: `/latest/meta-data/secret` ([`SECRET`]), `/files/<name>` (`file <name>`),
/// `/sized/<n>` (`n` bytes with `Content-Length`), `/streamed/<n>` (`n` bytes in 1 KiB chunks
/// without it), `/stall` (never answered), the redirects set with [`FileServer::redirect`];
/// anything else is 404.
pub struct FileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FileServer {
    /// Starts a server on a free port of `ip` (any of 127.0.0.0/8 works on Linux).
    pub async fn start(ip: [u8; 4]) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind((IpAddr::from(ip), 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `path` with a 302 to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.shared
            .lock()
            .redirects
            .insert(path.to_owned(), (StatusCode::FOUND, location.to_owned()));
    }

    /// Every path requested so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.shared.lock().hits.clone()
    }
}

async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let redirect = {
        let mut inner = shared.lock();
        inner.hits.push(path.clone());
        inner.redirects.get(&path).cloned()
    };
    if let Some((status, location)) = redirect {
        return (status, [(header::LOCATION, location)]).into_response();
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["latest", "meta-data", "secret"] => SECRET.into_response(),
        ["files", name] => format!("file {name}").into_response(),
        ["sized", n] => match n.parse::<usize>() {
            Ok(n) => vec![b'x'; n].into_response(),
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        },
        ["streamed", n] => match n.parse::<usize>() {
            Ok(n) => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = (0..n)
                    .step_by(1024)
                    .map(|start| Ok(Bytes::from(vec![b'x'; (n - start).min(1024)])))
                    .collect();
                Body::from_stream(futures_util::stream::iter(chunks)).into_response()
            }
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        },
        ["stall"] => std::future::pending::<Response>().await,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The default fetch policy with `allow` as `[discord.fetch] allow` (for tests whose files are
/// served on loopback, which the default policy refuses).
pub fn allowing(allow: &[&str]) -> guildhost::discord::fetch::FetchPolicy {
    use guildhost::discord::fetch::{AllowEntry, FetchPolicy};
    FetchPolicy {
        allow: allow
            .iter()
            .map(|entry| AllowEntry::parse(entry).unwrap_or_else(|e| panic!("{entry}: {e}")))
            .collect(),
        ..FetchPolicy::default()
    }
}
