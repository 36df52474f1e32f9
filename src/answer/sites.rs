//! The central server's answers about its sites.

use serde::Serialize;
use utoipa::ToSchema;

/// A site's batch taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The last of the site's items the central has applied: the site's
    /// next batch starts after it.
    pub through: u64,
    /// Items of this batch applied now; the others were applied before.
    pub applied: u64,
    /// The forwarding protocol the central speaks.
    pub protocol: u32,
}

/// Every site that has forwarded to this central server.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteList {
    pub sites: Vec<SiteItem>,
}

/// One site.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteItem {
    pub name: String,
    /// Its first batch (RFC 3339).
    pub first_contact: String,
    /// Its last batch (RFC 3339).
    pub last_contact: String,
    /// Whole seconds since its last batch.
    pub silent_s: i64,
    /// The last of its items applied.
    pub through: u64,
    /// Items it had still to send after its last batch, as it said.
    pub backlog: u64,
    /// Its telleverk version, as it last said.
    pub version: String,
    /// Its entries the central has polls of.
    pub entries: u64,
}
