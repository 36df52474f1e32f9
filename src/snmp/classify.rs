//! Sorts the library's errors into the causes the collector records, with a
//! detail that fits the entry's version and what the session saw.
//!
//! On one shared, unconnected UDP socket some failures cannot be told apart:
//! ICMP port unreachable is reported to connected sockets only, datagrams
//! without a request-id are dropped before they can be tied to a request, and
//! many v3 agents drop what they cannot decrypt or place without a report. A
//! timeout's detail then names every cause that fits, and only those: never a
//! community on v3, never a user or password before engine discovery.

use async_snmp::Error as LibError;
use async_snmp::v3::ReportStatus;

use super::{Error, Version};
use crate::record::FailureCause;

/// snmpUnknownContexts.0 (SNMP-TARGET-MIB, RFC 3413): the report of a context
/// name the agent does not know.
const UNKNOWN_CONTEXTS: [u32; 10] = [1, 3, 6, 1, 6, 3, 12, 1, 5, 0];
/// snmpUnavailableContexts.0: a context the agent knows but cannot serve now.
const UNAVAILABLE_CONTEXTS: [u32; 10] = [1, 3, 6, 1, 6, 3, 12, 1, 4, 0];

/// What the session knows beside the library's error.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    pub version: Option<Version>,
    /// v3: the entry encrypts (authPriv).
    pub privacy: bool,
    /// v3: the context name ("" is the default context).
    pub context: String,
    /// v3: the entry accepts the agent's unauthenticated reports.
    pub accept_reports: bool,
    /// v3: the agent has answered engine discovery (its engine is cached).
    pub engine_known: bool,
    /// Datagrams from the device that carried this session's request-id but
    /// could not be decoded.
    pub undecodable: u32,
}

/// A closed port draws ICMP port unreachable, which only a connected socket
/// is told about; on the shared socket it is silence.
const CLOSED: &str = "or the port is closed (a closed UDP port looks the same on a shared socket)";

/// Sorts a library error into a cause, with a detail free of secrets.
pub(super) fn classify(e: &LibError, facts: &Facts) -> Error {
    let (cause, detail) = match e.exchange_source() {
        LibError::Timeout {
            elapsed, retries, ..
        } => return timeout(facts, *elapsed, *retries),
        LibError::Network { source, .. }
            if source.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            (
                FailureCause::Refused,
                "the port is closed (connection refused)".into(),
            )
        }
        LibError::Network { source, .. } => (
            FailureCause::Unreachable,
            format!("network error: {source}"),
        ),
        LibError::Auth { .. } => (
            FailureCause::Authentication,
            "the answer failed authentication".into(),
        ),
        LibError::Report { status, .. } => report(status, facts),
        LibError::Snmp { status, index, .. } => (
            FailureCause::AgentError,
            format!("the agent answered {status} at varbind {index}"),
        ),
        LibError::Decode(d) => (
            FailureCause::Malformed,
            format!("cannot decode the answer: {d}"),
        ),
        LibError::MalformedResponse { .. } | LibError::ResponseShape { .. } => (
            FailureCause::Malformed,
            "the answer does not fit the request".into(),
        ),
        LibError::ConstructionTimeout { stage, .. } => (
            FailureCause::Timeout,
            format!("opening the session took too long ({stage:?})"),
        ),
        other => (
            FailureCause::Malformed,
            format!("{}: {other}", other.kind()),
        ),
    };
    Error { cause, detail }
}

/// The detail of silence: what fits the version and what was seen.
fn timeout(facts: &Facts, elapsed: std::time::Duration, retries: u32) -> Error {
    let waited = format!(
        "within {:?} ({retries} retries)",
        std::time::Duration::from_millis(elapsed.as_millis() as u64)
    );
    if facts.undecodable > 0 {
        return Error {
            cause: FailureCause::Malformed,
            detail: format!(
                "no valid answer {waited}, but {} answers that could not be decoded arrived from this address: a broken agent, or another service on this port",
                facts.undecodable
            ),
        };
    }
    let detail = match facts.version {
        Some(Version::V3) if facts.engine_known => v3_silence(facts, &waited),
        Some(Version::V3) => format!(
            "no answer to SNMPv3 engine discovery {waited}: a wrong address or port, SNMP or SNMPv3 turned off on the device, or a firewall; {CLOSED}. Discovery needs no user or password, so they are not the cause yet"
        ),
        _ => format!(
            "no answer {waited}: a wrong community (agents do not answer one), a wrong address or port, SNMP turned off on the device, or a firewall; {CLOSED}"
        ),
    };
    Error {
        cause: FailureCause::Timeout,
        detail,
    }
}

/// A v3 agent that answered engine discovery but not the request: it dropped
/// the request without a report. Which causes can do that depends on the entry.
fn v3_silence(facts: &Facts, waited: &str) -> String {
    let mut causes = Vec::new();
    if facts.privacy {
        causes.push(
            "a wrong privacy password or protocol (the agent cannot decrypt the request and drops it, as net-snmp does)"
                .to_owned(),
        );
    }
    if !facts.context.is_empty() {
        causes.push(format!(
            "a context \"{}\" the agent does not know (net-snmp and snmpsim drop those without a report): check `context` in the [[device]] entry",
            facts.context
        ));
    }
    causes.push(if facts.accept_reports {
        "a wrong user or authentication password, if this agent sends no reports".to_owned()
    } else {
        "a wrong user or authentication password (this entry does not accept unauthenticated reports, so the agent's report of it is dropped)".to_owned()
    });
    causes.push("or the device stopped answering".to_owned());
    format!(
        "the agent answered SNMPv3 engine discovery but not the request {waited}: {}",
        causes.join("; ")
    )
}

/// A terminal SNMPv3 report. USM reports are about the credentials; a report
/// about the context comes after the credentials were accepted (RFC 3412
/// dispatches the scoped PDU only once USM has verified and decrypted it), so
/// it is the agent refusing what was asked — `agent_error` — and calling it
/// `authentication` would send the user to passwords that are right.
fn report(status: &ReportStatus, facts: &Facts) -> (FailureCause, String) {
    let auth = |detail: String| (FailureCause::Authentication, detail);
    match status {
        ReportStatus::WrongDigest { .. } => {
            auth("wrong digest: the authentication password or protocol is wrong".into())
        }
        ReportStatus::UnknownUserName { .. } => {
            auth("unknown user name: check `user` in the [[device]] entry".into())
        }
        ReportStatus::DecryptionError { .. } => {
            auth("decryption error: the privacy password or protocol is wrong".into())
        }
        ReportStatus::UnsupportedSecurityLevel { .. } => auth(
            "the agent does not support this security level for the user (privacy or not)".into(),
        ),
        ReportStatus::Other { oid, .. } if oid.arcs() == UNKNOWN_CONTEXTS => (
            FailureCause::AgentError,
            unknown_context(&facts.context, "it reported snmpUnknownContexts"),
        ),
        ReportStatus::Other { oid, .. } if oid.arcs() == UNAVAILABLE_CONTEXTS => (
            FailureCause::AgentError,
            format!(
                "the agent knows context \"{}\" but cannot serve it now (snmpUnavailableContexts)",
                facts.context
            ),
        ),
        ReportStatus::Other { oid, .. } => (
            FailureCause::AgentError,
            format!("the agent answered with SNMPv3 report {oid}"),
        ),
        other => auth(format!("SNMPv3 report: {other}")),
    }
}

/// The detail of a context the agent does not know; `how` says how it showed.
pub(super) fn unknown_context(context: &str, how: &str) -> String {
    format!(
        "the agent does not know context \"{context}\" ({how}): check `context` in the [[device]] entry"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::Duration;

    fn target() -> SocketAddr {
        "127.0.0.1:161".parse().unwrap()
    }

    fn timed_out() -> LibError {
        LibError::Timeout {
            target: target(),
            elapsed: Duration::from_millis(1_004),
            retries: 1,
        }
    }

    fn v3(privacy: bool, context: &str, engine_known: bool) -> Facts {
        Facts {
            version: Some(Version::V3),
            privacy,
            context: context.into(),
            accept_reports: true,
            engine_known,
            undecodable: 0,
        }
    }

    fn report_error(status: ReportStatus) -> LibError {
        LibError::Report {
            target: target(),
            status: Box::new(status),
            metadata: Box::default(),
        }
    }

    #[test]
    fn silence_on_v2c_names_the_community_and_a_closed_port() {
        let facts = Facts {
            version: Some(Version::V2c),
            ..Facts::default()
        };
        let e = classify(&timed_out(), &facts);
        assert_eq!(e.cause, FailureCause::Timeout);
        assert!(e.detail.starts_with("no answer within 1.004s (1 retries)"));
        assert!(e.detail.contains("community") && e.detail.contains("port is closed"));
    }

    #[test]
    fn silence_on_v3_never_names_a_community() {
        let discovery = classify(&timed_out(), &v3(true, "", false)).detail;
        assert!(discovery.contains("engine discovery") && discovery.contains("port is closed"));
        assert!(!discovery.contains("community") && !discovery.contains("privacy"));
        let request = classify(&timed_out(), &v3(true, "c1", true)).detail;
        assert!(request.contains("privacy password") && request.contains("\"c1\""));
        assert!(!request.contains("community"));
        let no_privacy = classify(&timed_out(), &v3(false, "", true)).detail;
        assert!(!no_privacy.contains("privacy") && !no_privacy.contains("context"));
        let strict = Facts {
            accept_reports: false,
            ..v3(false, "", true)
        };
        assert!(
            classify(&timed_out(), &strict)
                .detail
                .contains("does not accept unauthenticated reports")
        );
    }

    #[test]
    fn undecodable_answers_make_silence_malformed() {
        let facts = Facts {
            undecodable: 2,
            ..v3(true, "", false)
        };
        let e = classify(&timed_out(), &facts);
        assert_eq!(e.cause, FailureCause::Malformed);
        assert!(e.detail.contains("2 answers that could not be decoded"));
    }

    #[test]
    fn reports_sort_into_credentials_and_context() {
        let facts = v3(true, "c1", true);
        let decryption = classify(
            &report_error(ReportStatus::DecryptionError { counter: 1 }),
            &facts,
        );
        assert_eq!(decryption.cause, FailureCause::Authentication);
        assert!(
            decryption
                .detail
                .contains("privacy password or protocol is wrong")
        );
        let oid = async_snmp::Oid::from_slice(&UNKNOWN_CONTEXTS);
        let context = classify(
            &report_error(ReportStatus::Other {
                oid,
                value: async_snmp::Value::Counter32(1),
            }),
            &facts,
        );
        assert_eq!(context.cause, FailureCause::AgentError);
        assert!(context.detail.contains("context \"c1\"") && context.detail.contains("`context`"));
    }
}
