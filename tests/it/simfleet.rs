//! A simulated fleet served over SNMP in the test process, on a clock the
//! test shares with the service it polls.

use std::time::Duration;

use tokio::sync::oneshot;

use telleverk::clock::Clock;
use telleverk::sim::agent;
use telleverk::sim::model::Fleet;
use telleverk::sim::{Polling, Versions};

/// How the tests' configs poll a simulated fleet: every second, v2c, into
/// `telleverk.db` beside the config.
pub fn polling() -> Polling {
    Polling {
        storage: "telleverk.db".into(),
        interval: Duration::from_secs(1),
        concurrency: 32,
        timeout: Duration::from_secs(1),
        versions: Versions::V2c,
    }
}

/// A simulated fleet served on its own thread until dropped.
pub struct Sim {
    pub address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    pub fn start(fleet: Fleet, clock: Clock) -> Sim {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let options = agent::Options {
                    listen: "127.0.0.1:0".into(),
                    delay: Duration::from_millis(1),
                    slow_delay: Duration::from_millis(5),
                };
                let running = agent::start(fleet, clock, &options).await.unwrap();
                tx.send(running.address).unwrap();
                let _ = stopped.await;
                running.stop().await;
            });
        });
        let address = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        Sim {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
