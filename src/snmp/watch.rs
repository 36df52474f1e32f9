//! A session's view of the shared UDP socket: the library's handle for one
//! device, plus a count of the datagrams from that device that carried the
//! session's request-id but could not be decoded.
//!
//! The library drops such a datagram and keeps waiting, so without this count
//! a broken agent reads as silence. Datagrams without a request-id cannot be
//! tied to any session on a shared socket and stay uncounted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_snmp::message::Message;
use async_snmp::{
    Candidate, DecodeConfig, ReceiveLimits, RequestRegistration, Transport, UdpHandle,
};
use bytes::Bytes;

/// [`UdpHandle`] with a count of undecodable answers from its target.
#[derive(Clone)]
pub(super) struct Watched {
    handle: UdpHandle,
    undecodable: Arc<AtomicU32>,
}

impl Watched {
    pub(super) fn new(handle: UdpHandle) -> Watched {
        Watched {
            handle,
            undecodable: Arc::default(),
        }
    }

    /// Datagrams from the target that matched a request of this session but
    /// could not be decoded, so far.
    pub(super) fn undecodable(&self) -> u32 {
        self.undecodable.load(Ordering::Relaxed)
    }
}

impl Transport for Watched {
    async fn send(&self, data: &[u8]) -> async_snmp::Result<()> {
        self.handle.send(data).await
    }

    async fn request_with<T, F>(
        &self,
        data: &[u8],
        registration: RequestRegistration,
        mut validate: F,
    ) -> async_snmp::Result<T>
    where
        T: Send,
        F: FnMut(Bytes, SocketAddr) -> async_snmp::Result<Candidate<T>> + Send,
    {
        let target = self.handle.peer_addr();
        let undecodable = &self.undecodable;
        let watching = move |datagram: Bytes, source: SocketAddr| {
            let copy = datagram.clone();
            let verdict = validate(datagram, source);
            if matches!(verdict, Ok(Candidate::Reject))
                && source == target
                && Message::decode(copy, DecodeConfig::default()).is_err()
            {
                undecodable.fetch_add(1, Ordering::Relaxed);
            }
            verdict
        };
        self.handle.request_with(data, registration, watching).await
    }

    fn peer_addr(&self) -> SocketAddr {
        self.handle.peer_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    fn is_reliable(&self) -> bool {
        self.handle.is_reliable()
    }

    fn receive_limits(&self) -> ReceiveLimits {
        self.handle.receive_limits()
    }

    fn send_capacity(&self) -> usize {
        self.handle.send_capacity()
    }
}
