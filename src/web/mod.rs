//! The web pages for facilities staff, served by `serve` (and the demo)
//! beside the API: server-rendered HTML (maud: templates are Rust code the
//! compiler checks, escaped by default, with no template files to ship),
//! one style sheet and charts drawn as SVG on the server, all compiled into
//! the binary, so the pages work with no internet and no script.
//!
//! Pages read through the API's own functions (`http::device_detail`,
//! `http::enter_reading`, the fleet view): no page computes money or alerts
//! itself.

mod alerts;
mod chart;
mod contracts;
mod device;
mod fleet;
mod layout;
mod reports;
pub mod session;

use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, html};
use serde::Deserialize;

use crate::http::AppState;
use session::{ViewerPage, safe_next, see_other, set_cookie};

pub use session::Sessions;

/// The pages' routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(fleet::fleet))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/alerts", get(alerts::alerts))
        .route("/contracts", get(contracts::list))
        .route("/contracts/{id}", get(contracts::contract))
        .route("/contracts/{id}/uptime", get(contracts::uptime))
        .route("/reports", get(reports::reports))
        .route("/reports/counters", get(reports::counters))
        .route("/reports/vendor-billing", get(reports::vendor))
        .route("/reports/{name}/run", post(reports::run))
        .route("/devices/{serial}", get(device::device))
        .route("/devices/{serial}/readings", post(device::enter_reading))
        .route(layout::CSS_PATH, get(css))
        .with_state(state)
        // Pages are text: gzip when the browser takes it (the fleet page of
        // 10 000 devices is sent 50 rows at a time, but rows repeat a lot).
        .layer(tower_http::compression::CompressionLayer::new())
}

async fn css() -> Response {
    let mut r = layout::CSS.into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The login form (status 401 and the error when a token was refused).
fn login_page(next: &str, error: Option<&str>) -> maud::Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (layout::head("Log in"))
            body {
                main class="login" {
                    h1 { "telleverk" }
                    p { "Log in with your API token. Its role (viewer, operator or admin) is what you may do here." }
                    @if let Some(e) = error { p class="error" role="alert" { (e) } }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Token" }
                        input id="token" type="password" name="token" autocomplete="current-password" required autofocus;
                        button class="primary" type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

async fn login_form(Query(q): Query<Next>) -> Response {
    login_page(&safe_next(q.next.as_deref()), None).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    match state.sessions.start(&state.config.http, &form.token) {
        Some((id, session)) => {
            tracing::info!(token = %session.name, "logged in to the web pages");
            see_other(&next, Some(set_cookie(&state, Some(&id))))
        }
        None => (
            StatusCode::UNAUTHORIZED,
            login_page(
                &next,
                Some("That token is not known: check it and try again."),
            ),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

async fn logout(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(refused) = page_of.csrf_refusal(&form.csrf) {
        return refused;
    }
    state.sessions.end(&page_of.id);
    see_other("/login", Some(set_cookie(&state, None)))
}
