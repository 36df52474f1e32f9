//! Web sessions: a person logs in with an API token once and gets a session
//! cookie (a random id, HttpOnly, SameSite=Strict, `Secure` when `[http]
//! secure_cookies`), which ends after `[http] session_idle` unused, at
//! logout, or when its token leaves the config. Every form that changes
//! something carries the session's CSRF token.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::clock::Stopwatch;
use crate::config::{Http, Role, token_hash};
use crate::http::AppState;
use crate::http::auth::Needs;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "telleverk_session";

/// One logged-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token's name and role.
    pub name: String,
    pub role: Role,
    /// The token's hash: the session ends when no token of the config has it.
    hash: [u8; 32],
    /// Sent back by every form that changes something.
    pub csrf: String,
    /// Real time since the session was last used.
    used: Stopwatch,
}

/// The sessions of this process (they end when it stops).
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// `n` random bytes as lowercase hex.
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// A new session for the config's token `token`; None when no token of
    /// the config is it. Returns the session's id.
    pub fn start(&self, http: &Http, token: &str) -> Option<(String, Session)> {
        let hash = token_hash(token.trim());
        // A collector's token forwards a site's readings; it opens no page.
        let known = http
            .tokens
            .iter()
            .find(|t| t.hash == hash && t.role >= Role::Viewer)?;
        let session = Session {
            name: known.name.clone(),
            role: known.role,
            hash,
            csrf: random_hex(16),
            used: Stopwatch::start(),
        };
        let id = random_hex(32);
        let mut all = self.by_id.lock().expect("sessions lock");
        // Ended sessions go whenever a new one starts: the map never grows
        // past the sessions in use.
        let idle = http.session_idle;
        all.retain(|_, s| s.used.elapsed() <= idle);
        all.insert(id.clone(), session.clone());
        Some((id, session))
    }

    /// The session `id`, marked used now; None when unknown, idle too long
    /// or its token left the config.
    pub fn get(&self, http: &Http, id: &str) -> Option<Session> {
        let mut all = self.by_id.lock().expect("sessions lock");
        let s = all.get_mut(id)?;
        let live =
            s.used.elapsed() <= http.session_idle && http.tokens.iter().any(|t| t.hash == s.hash);
        if !live {
            all.remove(id);
            return None;
        }
        s.used = Stopwatch::start();
        Some(s.clone())
    }

    /// Ends the session `id`.
    pub fn end(&self, id: &str) {
        self.by_id.lock().expect("sessions lock").remove(id);
    }
}

/// The session cookie's value in a request, if any.
pub fn cookie_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value of a session (`id`), or of an ended one (empty).
pub fn set_cookie(state: &AppState, id: Option<&str>) -> HeaderValue {
    let secure = if state.config.http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = match id {
        Some(id) => format!(
            "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            state.config.http.session_idle.as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).expect("a cookie of visible ASCII")
}

/// A redirect (303) to `to`, setting `cookie` when given.
pub fn see_other(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    if let Some(c) = cookie {
        r.headers_mut().insert(SET_COOKIE, c);
    }
    r
}

/// Where to go after logging in: a path of this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A person with a session whose role is at least `N::ROLE`: pages take
/// it. Without a session: a redirect to `/login`; with too small a role: 403.
pub struct Page<N: Needs> {
    pub session: Session,
    pub id: String,
    needs: PhantomData<N>,
}

pub type ViewerPage = Page<crate::http::auth::ViewerRole>;
pub type OperatorPage = Page<crate::http::auth::OperatorRole>;

impl<N: Needs + Send + Sync> FromRequestParts<AppState> for Page<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = cookie_id(parts)
            .and_then(|id| Some((state.sessions.get(&state.config.http, &id)?, id)));
        let Some((session, id)) = found else {
            let here = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let to = format!("/login?next={}", super::layout::url_encode(&here));
            return Err(see_other(&to, None));
        };
        if session.role < N::ROLE {
            let page = super::layout::message_page(
                &session,
                "Not allowed",
                &format!(
                    "Your token ({}) has the role {}; this needs {}.",
                    session.name,
                    session.role.name(),
                    N::ROLE.name()
                ),
            );
            return Err((StatusCode::FORBIDDEN, page).into_response());
        }
        Ok(Page {
            session,
            id,
            needs: PhantomData,
        })
    }
}

impl<N: Needs> Page<N> {
    /// Whether `sent` is this session's CSRF token (compared in constant
    /// time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        let (a, b) = (self.session.csrf.as_bytes(), sent.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// None when `sent` is this session's CSRF token, else the 403 page
    /// that asks to send the form again.
    pub fn csrf_refusal(&self, sent: &str) -> Option<Response> {
        if self.csrf_ok(sent) {
            return None;
        }
        let page = super::layout::message_page(
            &self.session,
            "Form expired",
            "This form is from another session: open the page again and resend it.",
        );
        Some((StatusCode::FORBIDDEN, page).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/devices/A1?x=1")), "/devices/A1?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    fn http(tokens: &[(&str, Role)], idle_secs: u64) -> Http {
        Http {
            listen: "127.0.0.1:0".parse().unwrap(),
            tokens: tokens
                .iter()
                .map(|(token, role)| crate::config::Token {
                    name: format!("{role:?}"),
                    role: *role,
                    hash: token_hash(token),
                    site: None,
                })
                .collect(),
            limits: Default::default(),
            session_idle: std::time::Duration::from_secs(idle_secs),
            secure_cookies: false,
            tls: None,
        }
    }

    #[test]
    fn a_session_ends_when_idle_too_long_or_when_its_token_leaves_the_config() {
        let sessions = Sessions::default();
        let config = http(&[("tlv_a", Role::Operator), ("tlv_b", Role::Viewer)], 60);
        assert!(sessions.start(&config, "tlv_unknown").is_none());
        let (id, s) = sessions.start(&config, " tlv_a ").unwrap();
        assert_eq!(s.role, Role::Operator);
        let got = sessions.get(&config, &id).unwrap();
        assert_eq!(got.csrf, s.csrf, "the same session, the same CSRF token");
        // Unused longer than `session_idle`: gone, and gone for good.
        sessions.by_id.lock().unwrap().get_mut(&id).unwrap().used =
            Stopwatch::started_ago(std::time::Duration::from_secs(61));
        assert!(sessions.get(&config, &id).is_none());
        assert!(sessions.by_id.lock().unwrap().get(&id).is_none());
        // Used within it, it lasts; each use starts the idle time again.
        let (id, _) = sessions.start(&config, "tlv_b").unwrap();
        sessions.by_id.lock().unwrap().get_mut(&id).unwrap().used =
            Stopwatch::started_ago(std::time::Duration::from_secs(59));
        assert!(sessions.get(&config, &id).is_some());
        assert!(sessions.by_id.lock().unwrap()[&id].used.elapsed().as_secs() < 5);
        // A config without its token (telleverk started again with the
        // token taken out): the session is over.
        let without_b = http(&[("tlv_a", Role::Operator)], 60);
        assert!(sessions.get(&without_b, &id).is_none());
        // Sessions idle too long go when a new one starts.
        let (old, _) = sessions.start(&config, "tlv_a").unwrap();
        sessions.by_id.lock().unwrap().get_mut(&old).unwrap().used =
            Stopwatch::started_ago(std::time::Duration::from_secs(3_600));
        sessions.start(&config, "tlv_a").unwrap();
        assert!(!sessions.by_id.lock().unwrap().contains_key(&old));
        sessions.end(&id);
        assert!(sessions.get(&config, &id).is_none());
    }

    #[test]
    fn random_ids_are_hex_and_differ() {
        let (a, b) = (random_hex(32), random_hex(32));
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
