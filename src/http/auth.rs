//! Bearer tokens and roles. A handler states the role it needs by the caller
//! type it takes ([`Viewer`], [`Operator`], [`Admin`]): no token or an unknown
//! one is 401, a role that may not is 403.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::answer::ErrorCode;
use crate::config::{Role, Token, token_hash};

/// The role a handler needs.
pub trait Needs {
    const ROLE: Role;
}

pub struct ViewerRole;
pub struct OperatorRole;
pub struct AdminRole;

impl Needs for ViewerRole {
    const ROLE: Role = Role::Viewer;
}
impl Needs for OperatorRole {
    const ROLE: Role = Role::Operator;
}
impl Needs for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// A caller whose token grants at least `N::ROLE`.
pub struct Caller<N: Needs> {
    /// The token's name, for the log.
    pub name: String,
    needs: PhantomData<N>,
}

pub type Viewer = Caller<ViewerRole>;
pub type Operator = Caller<OperatorRole>;
pub type Admin = Caller<AdminRole>;

/// 401 with the header that says how to authenticate.
pub struct Unauthorized(ApiError);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

/// Why a request was refused.
pub enum Refused {
    Unauthorized(Unauthorized),
    Forbidden(ApiError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(u) => u.into_response(),
            Refused::Forbidden(e) => e.into_response(),
        }
    }
}

fn unauthorized(message: &str) -> Refused {
    Refused::Unauthorized(Unauthorized(ApiError::new(
        ErrorCode::Unauthorized,
        message,
    )))
}

/// The config's token the request's `Authorization` header carries.
fn known_token<'s>(parts: &Parts, state: &'s AppState) -> Result<&'s Token, Refused> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Err(unauthorized(
            "this needs a token: send `Authorization: Bearer <token>`",
        ));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(
            "the Authorization header is not `Bearer <token>`",
        ));
    };
    let hash = token_hash(token);
    state
        .config
        .http
        .tokens
        .iter()
        .find(|t| t.hash == hash)
        .ok_or_else(|| unauthorized("the token is not known"))
}

impl<N: Needs + Send + Sync> FromRequestParts<AppState> for Caller<N> {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let known = known_token(parts, state)?;
        if known.role < N::ROLE {
            return Err(Refused::Forbidden(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the token `{}` has the role {}; this needs {}",
                    known.name,
                    known.role.name(),
                    N::ROLE.name()
                ),
            )));
        }
        Ok(Caller {
            name: known.name.clone(),
            needs: PhantomData,
        })
    }
}

/// A site's collector: a `collector` token and the one site it forwards for.
pub struct SiteCollector {
    /// The token's name, for the log.
    pub name: String,
    pub site: String,
}

impl FromRequestParts<AppState> for SiteCollector {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let known = known_token(parts, state)?;
        match (&known.role, &known.site) {
            (Role::Collector, Some(site)) => Ok(SiteCollector {
                name: known.name.clone(),
                site: site.clone(),
            }),
            _ => Err(Refused::Forbidden(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the token `{}` has the role {}; forwarding needs a collector token bound to the site",
                    known.name,
                    known.role.name()
                ),
            ))),
        }
    }
}
