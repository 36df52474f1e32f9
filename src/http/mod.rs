//! The web API (axum): routes, bearer-token roles, the OpenAPI document made
//! from the same handlers, and the error → status mapping. Reads go to a pool
//! of read connections on blocking threads; entered readings go through the
//! collector's [`Store`], so one writer owns the database. The device list is
//! served from an in-memory view of the fleet, rebuilt after every poll round,
//! every entered reading and every minute.
//!
//! Never here: SQL, billing rules, or a secret in an answer.

pub(crate) mod auth;
mod billing;
mod devices;
mod error;
#[cfg(test)]
mod fuzz;
mod invoice_checks;
mod metrics;
mod params;
mod readings;
mod reports;
mod server;
mod sites;
mod system;
mod uptime;
mod view;

use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use billing::{ContractPage, contract_page};
pub(crate) use devices::device_detail;
pub use error::ApiError;
pub use metrics::Metrics;
pub(crate) use readings::{NewReading, enter as enter_reading};
pub(crate) use reports::{CountersQuery, VendorQuery, counters_download, run_now, vendor_download};
pub(crate) use uptime::contract_uptime;

use crate::answer::ErrorBody;
use crate::clock::Clock;
use crate::config::Config;
use crate::gather::FleetView;
use crate::scheduler::Runner;
use crate::storage::{Pool, Store};

/// What every handler shares.
pub struct Inner {
    pub config: Arc<Config>,
    /// Read connections.
    pub pool: Pool,
    /// The one writer (shared with the collector).
    pub store: Arc<Mutex<Store>>,
    /// The fleet as last read, for the device list.
    pub view: RwLock<Arc<FleetView>>,
    /// The view's own read connection and what it read before.
    pub refresher: Mutex<view::Refresher>,
    /// Wakes the task that rebuilds the view.
    pub changed: Notify,
    /// The collector's counters since start.
    pub metrics: Metrics,
    pub clock: Clock,
    /// Runs reports: on the schedule, and when asked.
    pub runner: Runner,
    /// The web pages' sessions.
    pub sessions: crate::web::Sessions,
    /// The alert history as last checked: each build's alerts are compared
    /// with it, and it fills in when each open alert began.
    pub tracker: Mutex<crate::notify::Tracker>,
    /// Wakes the deliverer when notifications were stored.
    pub notifications: Arc<Notify>,
    /// What the deliverer did since start (`/metrics`).
    pub deliveries: Arc<crate::notify::deliver::Counts>,
}

pub type AppState = Arc<Inner>;

impl Inner {
    pub fn new(config: Arc<Config>, store: Arc<Mutex<Store>>, clock: Clock) -> Inner {
        Inner {
            pool: Pool::new(&config.storage),
            refresher: view::Refresher::new(&config.storage),
            runner: Runner::new(config.clone(), store.clone(), clock),
            config,
            store,
            view: RwLock::new(Arc::new(FleetView::default())),
            changed: Notify::new(),
            metrics: Metrics::default(),
            clock,
            sessions: crate::web::Sessions::default(),
            tracker: Mutex::new(crate::notify::Tracker::new()),
            notifications: Arc::new(Notify::new()),
            deliveries: Arc::default(),
        }
    }

    /// Today in Europe/Oslo.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::contract::dates::local_date(self.clock.timestamp())
    }

    /// The deliverer of the notifications this state's view tracking
    /// stores (woken by it).
    pub fn deliverer(&self) -> Result<crate::notify::Deliverer, crate::notify::deliver::Error> {
        crate::notify::Deliverer::new(
            self.config.clone(),
            self.store.clone(),
            self.clock,
            self.notifications.clone(),
            self.deliveries.clone(),
        )
    }

    /// The poll interval in the clock's time, in ms: what a device's last
    /// poll is measured against to be stale.
    pub fn poll_interval_ms(&self) -> i64 {
        i64::try_from(self.clock.span(self.config.collector.interval).as_millis())
            .unwrap_or(i64::MAX / 4)
    }

    /// The fleet view as last built.
    pub fn view(&self) -> Arc<FleetView> {
        self.view.read().expect("view lock").clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "telleverk",
        description = "Meter readings, contracts and money of leased Konica Minolta MFPs. \
                       Every path under /api/v1 needs `Authorization: Bearer <token>`."
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The routes and the OpenAPI document they make.
pub fn router(state: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::healthz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(devices::list))
        .routes(routes!(devices::detail))
        .routes(routes!(readings::readings, readings::enter_reading))
        .routes(routes!(readings::withdraw_reading))
        .routes(routes!(billing::contracts))
        .routes(routes!(billing::reconciliation))
        .routes(routes!(billing::invoices))
        .routes(routes!(
            invoice_checks::check_invoice,
            invoice_checks::checks
        ))
        .routes(routes!(invoice_checks::check))
        .routes(routes!(uptime::device))
        .routes(routes!(uptime::contract))
        .routes(routes!(reports::counters))
        .routes(routes!(reports::vendor_billing))
        .routes(routes!(reports::run_report))
        .routes(routes!(sites::sites))
        .routes(routes!(system::alerts))
        .routes(routes!(system::alert_history))
        .routes(routes!(system::config))
        .routes(routes!(system::openapi))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(sites::ingest))
                .layer(axum::extract::DefaultBodyLimit::max(sites::MAX_BATCH_BYTES)),
        )
        .with_state(state.clone())
        .split_for_parts();
    let openapi = Arc::new(openapi);
    router
        .layer(axum::Extension(openapi))
        .merge(crate::web::router(state))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
}

/// Serves the API on `listener` within `[http]`'s limits until `shutdown`
/// turns true; requests in flight are finished first. Rebuilds the fleet
/// view when told and every minute.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let tls = match &state.config.http.tls {
        Some(files) => Some(server::acceptor(files).map_err(std::io::Error::other)?),
        None => None,
    };
    let stale = view::rebuild(&state).await;
    let refresher = tokio::spawn(view::refresh_loop(state.clone(), shutdown.clone(), stale));
    let limits = state.config.http.limits;
    let app = server::limited(router(state), limits);
    let result = server::run(listener, app, limits, tls, shutdown).await;
    refresher.abort();
    result
}

/// Runs blocking work (SQLite, billing) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}
