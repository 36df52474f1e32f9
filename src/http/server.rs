//! The HTTP/1 server around the router, and the limits that keep one client
//! from holding what every other needs: at most `[http] max_connections`
//! connections are served at once (the rest wait in the listen backlog, not
//! in file descriptors); a connection that sends no complete request head
//! within `header_read_timeout` is closed, an idle keep-alive one too; a
//! request not answered within `request_timeout`, its body included, is
//! answered 503; a body over `max_body_bytes` is answered 413.
//!
//! With `[http] tls_cert` and `tls_key` every connection is TLS (rustls):
//! its handshake runs in the connection's own task, within
//! `header_read_timeout`, so a slow or silent client holds only its slot.
//!
//! On shutdown it stops accepting, closes idle connections and lets the
//! requests in flight finish (each within `request_timeout`).
//!
//! Never here: routes, roles, or what an answer says beyond the limits.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::error::ApiError;
use crate::answer::ErrorCode;
use crate::config::Limits;

/// The router with the request limits: a time for the whole request and a
/// size for its body.
pub fn limited(router: Router, limits: Limits) -> Router {
    let max_body = limits.max_body_bytes;
    let request_timeout = limits.request_timeout;
    router
        .layer(middleware::from_fn(move |request, next| {
            body_fits(max_body, request, next)
        }))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(move |request, next| {
            answered_within(request_timeout, request, next)
        }))
}

/// Serves `app` on `listener` until `shutdown` turns true (or its sender is
/// gone), then waits for the connections to finish.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (permit, stream) = tokio::select! {
            biased;
            () = stopping(&mut shutdown) => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let service = TowerToHyperService::new(app.clone());
        let Some(tls) = tls.clone() else {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("HTTP connection ended: {e}");
                }
                drop(permit);
            });
            continue;
        };
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let handshake_within = limits.header_read_timeout;
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(handshake_within, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!("TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake not finished within {handshake_within:?}");
                    return;
                }
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("HTTPS connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves when `shutdown` is true or can no longer change.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
}

/// The next connection, once a slot is free. An error that belongs to one
/// connection is skipped; any other (out of file descriptors) is logged and
/// retried a second later rather than ending the server.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, TcpStream) {
    let permit = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (permit, stream),
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!("cannot accept an HTTP connection (retrying in 1s): {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// 413 before the body is read when its declared length is over the limit
/// (a body without a length is cut at the limit where it is read).
async fn body_fits(max_body: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A site's batch has a limit of its own (one round of a large site
    // must fit); the route's body limit holds it to that.
    let limit = if request.uri().path() == super::sites::INGEST_PATH {
        max_body.max(super::sites::MAX_BATCH_BYTES)
    } else {
        max_body
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::too_large().into_response();
    }
    next.run(request).await
}

/// 503 when the request, its body included, is not answered in time.
async fn answered_within(limit: Duration, request: Request, next: Next) -> Response {
    let what = format!("{} {}", request.method(), request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let limit = humantime::format_duration(limit);
            tracing::warn!("{what} was not answered within {limit}");
            ApiError::new(
                ErrorCode::Timeout,
                format!(
                    "the request was not answered within {limit} ([http] request_timeout): \
                     its body came too slowly or the answer took too long"
                ),
            )
            .into_response()
        }
    }
}

/// The TLS of `[http] tls_cert` and `tls_key`; the error names the file.
pub fn acceptor(files: &crate::config::TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("[http] tls_cert {}: {e}", files.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("[http] tls_key {}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "[http] tls_cert {} and tls_key {} do not make a server certificate: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
