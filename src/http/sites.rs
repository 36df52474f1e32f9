//! The central server's side of many sites: `POST /api/v1/ingest`, where a
//! site's collector forwards what it stored, and `GET /api/v1/sites`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;

use super::auth::{SiteCollector, Viewer};
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking};
use crate::answer::{Accepted, ErrorBody, ErrorCode, SiteItem, SiteList};
use crate::storage::IngestError;
use crate::wire::{Batch, PROTOCOL};

/// The largest batch the central takes, whatever `[http] max_body_bytes`
/// says: one item (a round of a large site) must always fit.
pub(super) const MAX_BATCH_BYTES: usize = 64 << 20;

/// Where sites send their batches.
pub(super) const INGEST_PATH: &str = "/api/v1/ingest";

/// Takes a batch of a site's items (collector): applied in one transaction,
/// exactly once. Items already applied are skipped; a batch that would
/// leave a gap is refused with the item expected.
#[utoipa::path(
    post,
    path = "/api/v1/ingest",
    tag = "sites",
    request_body(
        content = serde_json::Value,
        description = "A batch: `protocol`, `site`, `version`, `stream`, `backlog`, `first` and `items` (rounds, entered readings, withdrawals)",
        example = json!({"protocol": 1, "site": "bergen", "version": "0.1.0", "stream": "5f3a9c", "backlog": 0, "first": 1, "items": []})
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Applied (or applied before)", body = Accepted),
        (status = 400, description = "Not a batch", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Not a collector token, or one bound to another site", body = ErrorBody),
        (status = 409, description = "`out_of_sequence`: a gap after the items applied (`expected` says where to start); `protocol`: another protocol version", body = ErrorBody),
        (status = 422, description = "An item that does not hold what the protocol says", body = ErrorBody),
    )
)]
pub async fn ingest(
    caller: SiteCollector,
    State(state): State<AppState>,
    body: Result<Json<Batch>, JsonRejection>,
) -> ApiResult<Json<Accepted>> {
    let Json(batch) = body?;
    if batch.protocol != PROTOCOL {
        let upgrade = if batch.protocol > PROTOCOL {
            "upgrade the central server"
        } else {
            "upgrade the site"
        };
        return Err(ApiError::new(
            ErrorCode::Protocol,
            format!(
                "this central server speaks forwarding protocol {PROTOCOL}; site `{}` sent protocol {}: {upgrade}",
                batch.site, batch.protocol
            ),
        ));
    }
    if batch.site != caller.site {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the token `{}` forwards for site `{}`, not `{}`",
                caller.name, caller.site, batch.site
            ),
        ));
    }
    let store = state.store.clone();
    let at = state.clock.now();
    let site = batch.site.clone();
    let (first, count) = (batch.first, batch.items.len());
    let done = blocking(move || {
        let mut store = store.lock().expect("store lock");
        store.ingest(&batch, at).map_err(refused)
    })
    .await?;
    if done.applied > 0 {
        tracing::info!(%site, first, items = count, applied = done.applied, through = done.through, "batch applied");
    } else {
        tracing::debug!(%site, first, items = count, through = done.through, "nothing new in the batch");
    }
    // New readings, or at least a contact: the view (and its site_silent
    // alerts) is built again.
    state.changed.notify_one();
    Ok(Json(Accepted {
        through: done.through,
        applied: done.applied,
        protocol: PROTOCOL,
    }))
}

fn refused(e: IngestError) -> ApiError {
    match e {
        IngestError::Gap { expected, .. } => {
            let mut error = ApiError::new(ErrorCode::OutOfSequence, e.to_string());
            error.expected = Some(expected);
            error
        }
        IngestError::Invalid { .. } => ApiError::new(ErrorCode::InvalidBatch, e.to_string()),
        IngestError::Storage(e) => e.into(),
    }
}

/// Every site that has forwarded here: its last contact, the items it had
/// still to send, its version.
#[utoipa::path(
    get,
    path = "/api/v1/sites",
    tag = "sites",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sites, by name", body = SiteList),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn sites(_caller: Viewer, State(state): State<AppState>) -> ApiResult<Json<SiteList>> {
    let st = state.clone();
    let rows = blocking(move || st.pool.read(|r| r.sites().map_err(ApiError::from))).await?;
    let now = state.clock.now();
    let shown = state.config.display;
    Ok(Json(SiteList {
        sites: rows
            .into_iter()
            .map(|s| SiteItem {
                silent_s: (now - s.last_contact).num_seconds().max(0),
                first_contact: shown.instant(s.first_contact.into()),
                last_contact: shown.instant(s.last_contact.into()),
                name: s.name,
                through: s.through,
                backlog: s.backlog,
                version: s.version,
                entries: s.entries,
            })
            .collect(),
    }))
}
