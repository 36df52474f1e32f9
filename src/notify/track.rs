//! The alert history and the notices: what one check of the alerts
//! changes, stored in one transaction.

use std::collections::HashMap;

use super::message::{AlertBody, Message};
use crate::alerts::{Alert, Kind};
use crate::config::{Config, Notify};
use crate::storage::{
    AlertEvent, AlertWrite, DigestMark, EventRef, NewNotification, Reader, Store,
};
use crate::timestamp::Timestamp;

/// The open alerts as the history has them, kept between checks (loaded
/// from the database at the first).
#[derive(Debug, Default)]
pub struct Tracker {
    /// The opening of each open alert, by key; None until loaded.
    open: Option<HashMap<String, AlertEvent>>,
}

/// What a check stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tracked {
    pub opened: usize,
    pub closed: usize,
    pub notices: usize,
    pub notifications: usize,
}

/// A destination of a `[[notify]]`: (destination, channel).
fn destinations(n: &Notify) -> impl Iterator<Item = (String, &'static str)> + '_ {
    n.mail_destination()
        .map(|d| (d, "email"))
        .into_iter()
        .chain(n.webhook.as_ref().map(|w| (w.url.clone(), "webhook")))
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    fn load(
        &mut self,
        reader: &Reader,
    ) -> Result<&mut HashMap<String, AlertEvent>, crate::storage::Error> {
        if self.open.is_none() {
            let events = reader.open_alert_events()?;
            self.open = Some(events.into_iter().map(|e| (e.key.clone(), e)).collect());
        }
        Ok(self.open.as_mut().expect("loaded"))
    }

    /// Gives every alert that does not know when it began the time the
    /// history first saw it open. Needs a check ([`Tracker::track`]) or a
    /// load before; until then it leaves the alerts as they are.
    pub fn fill_since(&self, alerts: &mut [Alert]) {
        let Some(open) = &self.open else { return };
        for a in alerts.iter_mut().filter(|a| a.since.is_none()) {
            if let Some(e) = open.get(&a.key()) {
                a.since = Some(e.since.unwrap_or(e.at));
            }
        }
    }

    /// Loads the open alerts from the history if not yet loaded.
    pub fn ensure_loaded(&mut self, reader: &Reader) -> Result<(), crate::storage::Error> {
        self.load(reader).map(|_| ())
    }

    /// Compares `alerts` (every alert open at `now`, contracts' included)
    /// with the history and stores what changed: openings, closings, the
    /// notices due and their notifications, and the digests due. An open
    /// alert of a kind `unsure` names stays open when `alerts` lacks it
    /// (the check that finds that kind failed to read; a failing database
    /// never closes an alert).
    /// `round` is the latest poll round stored when the alerts' devices
    /// were read.
    #[allow(clippy::too_many_arguments)]
    pub fn track(
        &mut self,
        store: &mut Store,
        config: &Config,
        alerts: &[Alert],
        round: Option<i64>,
        unsure: impl Fn(Kind) -> bool,
        now: Timestamp,
    ) -> Result<Tracked, crate::storage::Error> {
        let interval = i64::try_from(config.collector.interval.as_millis()).unwrap_or(i64::MAX / 4);
        let open = self.load(store)?;
        let mut current: HashMap<String, &Alert> = HashMap::with_capacity(alerts.len());
        for a in alerts {
            current.entry(a.key()).or_insert(a);
        }
        let mut write = AlertWrite::default();
        // What each notice tells: the opening, and whether it closed now.
        let mut told: Vec<(AlertEvent, bool)> = Vec::new();
        for (key, a) in &current {
            match open.get(key) {
                None => {
                    write.events.push(AlertEvent {
                        id: 0,
                        at: now,
                        notice: None,
                        key: key.clone(),
                        kind: a.kind.name().to_owned(),
                        serial: a.serial.as_ref().map(|s| s.to_string()),
                        contract: a.contract.clone(),
                        subject: a.subject.clone(),
                        opened: true,
                        since: a.since,
                        message: a.message.clone(),
                        round,
                    });
                }
                Some(opening)
                    if opening.notice.is_none() && confirmed(opening, round, interval, now) =>
                {
                    write.notices.push(EventRef::Stored(opening.id));
                    told.push((opening.clone(), false));
                }
                Some(_) => {}
            }
        }
        let mut closed_keys: Vec<&String> = open
            .iter()
            .filter(|(k, e)| {
                !current.contains_key(*k) && !Kind::parse(&e.kind).is_some_and(&unsure)
            })
            .map(|(k, _)| k)
            .collect();
        closed_keys.sort_unstable_by_key(|k| open[*k].id);
        let opened = write.events.len();
        for key in &closed_keys {
            let opening = &open[*key];
            write.events.push(AlertEvent {
                opened: false,
                since: Some(opening.since.unwrap_or(opening.at)),
                round,
                ..opening.clone()
            });
            if opening.notice.is_some() {
                let index = write.events.len() - 1;
                write.notices.push(EventRef::New(index));
                told.push((opening.clone(), true));
            }
        }
        let closed = closed_keys.len();
        let closed_keys: Vec<String> = closed_keys.into_iter().cloned().collect();
        // Each notice's notifications, for the entries that want it now.
        for (i, (opening, closes)) in told.iter().enumerate() {
            let Some(kind) = Kind::parse(&opening.kind) else {
                continue;
            };
            for n in config
                .notify
                .iter()
                .filter(|n| n.digest.is_none() && n.wants(kind))
            {
                for (destination, channel) in destinations(n) {
                    let id = super::new_id();
                    let closed_at = closes.then_some(now);
                    let alert = AlertBody::of(opening, closed_at, &config.display);
                    let message = Message::Alert {
                        id: id.clone(),
                        event: if *closes { "closed" } else { "opened" }.to_owned(),
                        at: config.display.instant(now),
                        alert,
                    };
                    write.notifications.push(NewNotification {
                        id,
                        destination,
                        channel,
                        notice: Some(i),
                        body: serde_json::to_string(&message).expect("a message serializes"),
                    });
                }
            }
        }
        let tracked = Tracked {
            opened,
            closed,
            notices: write.notices.len(),
            notifications: write.notifications.len(),
        };
        if write.is_empty() {
            return Ok(tracked);
        }
        let written = store.record_alerts(&write, now)?;
        // The history in memory follows what was stored.
        let open = self.open.as_mut().expect("loaded");
        for key in &closed_keys {
            open.remove(key);
        }
        for (i, e) in write.events.iter().enumerate().filter(|(_, e)| e.opened) {
            let stored = AlertEvent {
                id: written.events[i],
                at: now,
                notice: None,
                ..e.clone()
            };
            open.insert(e.key.clone(), stored);
        }
        for ((r, notice), (opening, _)) in write.notices.iter().zip(&written.notices).zip(&told) {
            if let EventRef::Stored(_) = r
                && let Some(e) = open.get_mut(&opening.key)
            {
                e.notice = Some(*notice);
            }
        }
        Ok(tracked)
    }

    /// Makes the digests due at `now`: for each `[[notify]]` with `digest`
    /// and each of its destinations, once its schedule came since the last
    /// (only the latest of several missed), one notification with the
    /// notices since the last and the alerts open and told; nothing is sent
    /// when there is nothing to tell. A destination seen the first time
    /// starts its schedule now.
    pub fn digests(
        &mut self,
        store: &mut Store,
        config: &Config,
        now: Timestamp,
    ) -> Result<usize, crate::storage::Error> {
        let mut write = AlertWrite::default();
        let latest = store.latest_notice()?;
        for n in config.notify.iter() {
            let Some(schedule) = &n.digest else { continue };
            for (destination, channel) in destinations(n) {
                let Some((last, through)) = store.last_digest(&destination, channel)? else {
                    write.digests.push(DigestMark {
                        destination,
                        channel,
                        due_at: now,
                        through_notice: latest,
                        notification: None,
                    });
                    continue;
                };
                let (due, _) = schedule.due(last.to_datetime(), now.to_datetime(), 1);
                let Some(due_at) = due.last().copied().map(Timestamp::from) else {
                    continue;
                };
                let notices = store.notices_after(through)?;
                let open = self.load(store)?;
                let message = digest(config, n, last, due_at, &notices, open);
                let notification = message.map(|m| {
                    let id = m.id().to_owned();
                    write.notifications.push(NewNotification {
                        id: id.clone(),
                        destination: destination.clone(),
                        channel,
                        notice: None,
                        body: serde_json::to_string(&m).expect("a message serializes"),
                    });
                    id
                });
                write.digests.push(DigestMark {
                    destination,
                    channel,
                    due_at,
                    through_notice: latest,
                    notification,
                });
            }
        }
        if write.is_empty() {
            return Ok(0);
        }
        let sent = write.notifications.len();
        store.record_alerts(&write, now)?;
        Ok(sent)
    }
}

/// An opening is told once a poll round was stored after it was seen (it
/// stayed open for two rounds), or, where no round comes, once it has been
/// open for two poll intervals.
fn confirmed(opening: &AlertEvent, round: Option<i64>, interval: i64, now: Timestamp) -> bool {
    match (opening.round, round) {
        (Some(then), Some(latest)) if latest > then => true,
        (None, Some(_)) => true,
        _ => now - opening.at >= 2 * interval,
    }
}

/// A digest for `n` due at `due_at`: the notices since its last (`after`)
/// of the kinds it wants, and the alerts open now that were told; None
/// when all three lists are empty.
fn digest(
    config: &Config,
    n: &Notify,
    after: Timestamp,
    due_at: Timestamp,
    notices: &[AlertEvent],
    open: &HashMap<String, AlertEvent>,
) -> Option<Message> {
    let wanted = |kind: &str| Kind::parse(kind).is_some_and(|k| n.wants(k));
    let shown = &config.display;
    let mut opened = Vec::new();
    let mut closed = Vec::new();
    for e in notices.iter().filter(|e| wanted(&e.kind)) {
        if e.opened {
            opened.push(AlertBody::of(e, None, shown));
        } else {
            // The closing event holds the opening's `since`.
            closed.push(AlertBody::of(e, Some(e.at), shown));
        }
    }
    let mut now_open: Vec<&AlertEvent> = open
        .values()
        .filter(|e| e.notice.is_some() && wanted(&e.kind))
        .collect();
    now_open.sort_unstable_by_key(|e| e.id);
    let open: Vec<AlertBody> = now_open
        .into_iter()
        .map(|e| AlertBody::of(e, None, shown))
        .collect();
    if opened.is_empty() && closed.is_empty() && open.is_empty() {
        return None;
    }
    Some(Message::Digest {
        id: super::new_id(),
        at: shown.instant(due_at),
        after: Some(shown.instant(after)),
        opened,
        closed,
        open,
    })
}
