//! Serves a simulated fleet over real SNMP (async-snmp's agent) on one UDP
//! port: a v1/v2c request picks its device by community, a v3 request by
//! context name (one USM user for all). Every request waits its reply delay,
//! counted from when it arrived, so a slow device delays nobody else.
//!
//! Knows nothing of the collector or storage; takes the time from a [`Clock`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_snmp::agent::Agent;
use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext, SecurityName,
};
use async_snmp::{AuthProtocol, AuthoritativeEngine, Oid, PrivProtocol, VarBind};
use bytes::Bytes;

use super::model::{Device, Fleet, Quirk, Slot, State, Value, mib};
use crate::clock::Clock;

/// The SNMPv3 user every simulated device accepts (SHA-256, AES-128).
pub const V3_USER: &str = "telleverk-sim";
pub const V3_AUTH_PASSWORD: &str = "sim-auth-password";
pub const V3_PRIV_PASSWORD: &str = "sim-priv-password";

/// How the fleet answers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen, e.g. `127.0.0.1:16100` (port 0: any free port).
    pub listen: String,
    /// The reply delay of every healthy device.
    pub delay: Duration,
    /// The reply delay of a slow device.
    pub slow_delay: Duration,
}

/// A fleet being served; stops when dropped or [`Running::stop`]ped.
pub struct Running {
    pub address: SocketAddr,
    agent: Arc<Agent>,
    task: tokio::task::JoinHandle<()>,
    delays: Arc<Delays>,
}

/// The reply delays, in µs, changed through [`Running::set_delays`].
#[derive(Debug)]
struct Delays {
    healthy: AtomicU64,
    slow: AtomicU64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Running {
    /// Changes the reply delays (healthy, slow) from the next request on:
    /// the demo's history rounds wait for no one.
    pub fn set_delays(&self, healthy: Duration, slow: Duration) {
        self.delays
            .healthy
            .store(micros(healthy), Ordering::Relaxed);
        self.delays.slow.store(micros(slow), Ordering::Relaxed);
    }

    /// Stops answering and waits until the agent is down.
    pub async fn stop(mut self) {
        self.agent.cancel();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.agent.cancel();
    }
}

/// The simulator could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what}: {detail}")]
pub struct StartError {
    pub what: String,
    pub detail: String,
}

fn start_error<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> StartError {
    let what = what.into();
    move |e| StartError {
        what,
        detail: e.to_string(),
    }
}

/// Starts serving `fleet` with time from `clock`.
pub async fn start(fleet: Fleet, clock: Clock, options: &Options) -> Result<Running, StartError> {
    let communities: Vec<Vec<u8>> = fleet
        .devices
        .iter()
        .map(|d| d.community.clone().into_bytes())
        .collect();
    let engine = AuthoritativeEngine::install(b"telleverk-sim".to_vec(), |_| {
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(start_error("set up the simulator's SNMPv3 engine"))?;
    let handler = Arc::new(FleetMib::new(fleet, clock, options));
    let delays = handler.delays.clone();
    let agent = Agent::builder()
        .bind(options.listen.clone())
        .communities(communities)
        .authoritative_engine(engine)
        .usm_user(V3_USER, |u| {
            u.auth_priv(
                AuthProtocol::Sha256,
                V3_AUTH_PASSWORD.as_bytes(),
                PrivProtocol::Aes128,
                V3_PRIV_PASSWORD.as_bytes(),
            )
        })
        .map_err(start_error("set up the simulator's SNMPv3 user"))?
        .handler(Oid::from_slice(&[1, 3, 6, 1]), handler)
        .max_concurrent_requests(None)
        // The engine and USM statistics handlers would be asked for the next
        // OID of every GETBULK varbind too; a printer fleet needs none of them.
        .without_builtin_handlers()
        .allow_all_access()
        .build()
        .await
        .map_err(start_error(format!(
            "start the simulator on {}",
            options.listen
        )))?;
    let agent = Arc::new(agent);
    let address = agent.local_addr();
    let runner = agent.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = runner.run().await {
            tracing::error!("the simulator stopped: {e}");
        }
    });
    Ok(Running {
        address,
        agent,
        task,
        delays,
    })
}

/// Serves each device of `fleet` on an address of its own (`addresses`, in
/// order, one a device), all answering v1/v2c `community` and the v3 user
/// in the empty context, as a network of printers does.
pub async fn start_each(
    fleet: &Fleet,
    clock: Clock,
    options: &Options,
    addresses: &[String],
    community: &str,
) -> Result<Vec<Running>, StartError> {
    let mut running = Vec::with_capacity(addresses.len());
    for (i, address) in (0..fleet.devices.len()).zip(addresses) {
        running.push(start_one(fleet, i, clock, options, address, community).await?);
    }
    Ok(running)
}

/// Serves device `i` of `fleet` alone on `address`, as [`start_each`] does.
pub async fn start_one(
    fleet: &Fleet,
    i: usize,
    clock: Clock,
    options: &Options,
    address: &str,
    community: &str,
) -> Result<Running, StartError> {
    let mut one = Fleet {
        seed: fleet.seed,
        start: fleet.start,
        devices: vec![fleet.devices[i].clone()],
    };
    // As a printer: the one community, and v3 in the empty context.
    one.devices[0].community = community.to_owned();
    one.devices[0].context = String::new();
    let options = Options {
        listen: address.to_owned(),
        ..options.clone()
    };
    start(one, clock, &options).await
}

/// The MIB of every device of the fleet.
struct FleetMib {
    fleet: Fleet,
    clock: Clock,
    colour: Vec<(Oid, Slot)>,
    mono: Vec<(Oid, Slot)>,
    by_name: HashMap<Bytes, usize>,
    delays: Arc<Delays>,
    /// By the device's index in the whole fleet.
    live: HashMap<usize, Mutex<Live>>,
}

/// What a device remembers between requests.
#[derive(Default)]
struct Live {
    boot: Boot,
    /// The state answered to the last request (by request id), so every value
    /// of one answer is from the same instant.
    answered: Option<(i32, Arc<State>)>,
}

/// The booting device: it starts booting at the fleet's boot time, answers one
/// reading (a request that includes the total counter) with zeros, and is up
/// again from the next request on.
#[derive(Default, Clone, Copy, PartialEq)]
enum Boot {
    #[default]
    Waiting,
    Booting {
        read_in: Option<i32>,
    },
    Done,
}

impl FleetMib {
    fn new(fleet: Fleet, clock: Clock, options: &Options) -> FleetMib {
        let table = |colour| {
            mib(colour)
                .into_iter()
                .map(|(arcs, slot)| (Oid::from_slice(&arcs), slot))
                .collect()
        };
        let by_name = fleet
            .devices
            .iter()
            .enumerate()
            .flat_map(|(i, d)| {
                [d.community.clone(), d.context.clone()].map(|n| (Bytes::from(n), i))
            })
            .collect();
        let live = fleet
            .devices
            .iter()
            .map(|d| (d.index, Mutex::default()))
            .collect();
        FleetMib {
            colour: table(true),
            mono: table(false),
            by_name,
            delays: Arc::new(Delays {
                healthy: AtomicU64::new(micros(options.delay)),
                slow: AtomicU64::new(micros(options.slow_delay)),
            }),
            live,
            fleet,
            clock,
        }
    }

    /// The device a request is for: by community, or by v3 context name. (A
    /// community that is another device's context name finds nobody: the
    /// agent only lets configured communities through.)
    fn device(&self, ctx: &RequestContext) -> Option<&Device> {
        let name = match ctx.security_name() {
            SecurityName::Community(c) => Bytes::copy_from_slice(c.as_bytes()),
            SecurityName::Usm(_) => ctx.context_name().clone(),
        };
        self.by_name.get(&name).map(|i| &self.fleet.devices[*i])
    }

    async fn wait(&self, ctx: &RequestContext, device: &Device) {
        let delay = match device.quirk {
            Some(Quirk::Slow) => &self.delays.slow,
            _ => &self.delays.healthy,
        };
        let due = ctx.received_at() + Duration::from_micros(delay.load(Ordering::Relaxed));
        if tokio::time::Instant::now() < due {
            tokio::time::sleep_until(due).await;
        }
    }

    fn table(&self, device: &Device) -> &[(Oid, Slot)] {
        if device.model.colour {
            &self.colour
        } else {
            &self.mono
        }
    }

    /// The device's state for this request (the same for all its varbinds).
    fn state(&self, ctx: &RequestContext, device: &Device, slot: Slot) -> Arc<State> {
        let mut live = self.live[&device.index].lock().expect("device lock");
        let request = ctx.request_id();
        let now = self.clock.now();
        if device.quirk == Some(Quirk::Boots) {
            live.boot = match live.boot {
                Boot::Waiting if now >= self.fleet.boot_at() => Boot::Booting { read_in: None },
                Boot::Booting { read_in: Some(r) } if r != request => Boot::Done,
                other => other,
            };
            if let (Boot::Booting { read_in: None }, Slot::KmGeneral(1)) = (live.boot, slot) {
                live.boot = Boot::Booting {
                    read_in: Some(request),
                };
            }
        }
        match &live.answered {
            Some((r, state)) if *r == request => state.clone(),
            _ => {
                let booting = matches!(live.boot, Boot::Booting { .. });
                let state = Arc::new(self.fleet.state(device, now, booting));
                live.answered = Some((request, state.clone()));
                state
            }
        }
    }

    fn value(
        &self,
        ctx: &RequestContext,
        device: &Device,
        slot: Slot,
    ) -> Option<async_snmp::Value> {
        let state = self.state(ctx, device, slot);
        device.value(slot, &state).map(to_snmp)
    }
}

impl MibHandler for FleetMib {
    fn get<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            let Some(device) = self.device(ctx) else {
                return Ok(GetResult::NoSuchObject);
            };
            self.wait(ctx, device).await;
            let table = self.table(device);
            let found = table
                .binary_search_by(|(o, _)| o.cmp(oid))
                .ok()
                .and_then(|i| self.value(ctx, device, table[i].1));
            Ok(found.map_or(GetResult::NoSuchObject, GetResult::Value))
        })
    }

    fn get_next<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            let Some(device) = self.device(ctx) else {
                return Ok(GetNextResult::EndOfMibView);
            };
            self.wait(ctx, device).await;
            let table = self.table(device);
            let first = table.partition_point(|(o, _)| o <= oid);
            for (next, slot) in &table[first..] {
                if let Some(value) = self.value(ctx, device, *slot) {
                    return Ok(GetNextResult::Value(VarBind::new(next.clone(), value)));
                }
            }
            Ok(GetNextResult::EndOfMibView)
        })
    }
}

fn to_snmp(value: Value) -> async_snmp::Value {
    use async_snmp::Value as V;
    match value {
        Value::Int(v) => V::Integer(i32::try_from(v).unwrap_or(i32::MAX)),
        Value::Text(t) => V::OctetString(Bytes::from(t)),
        Value::Octets(o) => V::OctetString(Bytes::from(o)),
        Value::Oid(o) => {
            V::ObjectIdentifier(Oid::parse(&o).unwrap_or_else(|_| Oid::from_slice(&[0, 0])))
        }
        Value::Counter32(c) => V::Counter32(c),
        Value::Ticks(t) => V::TimeTicks(t),
    }
}
