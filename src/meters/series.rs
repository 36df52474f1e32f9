//! One meter's readings over time, judged as a whole: which low readings were
//! glitches or follow a spike, where a counter was reset, wrapped or swapped by
//! a technician, which drops are implausible, and the running count of pages
//! ("cumulative") that carries on across those breaks (docs/contract-rules.md,
//! "Counters only grow").
//!
//! A drop the next reading confirms is judged in this order: a Counter32 wrap;
//! a reset when the new value is at most a tenth of the one before (the new
//! counter counts from 0); spikes when at most [`MAX_SPIKES`] readings within
//! [`SPIKE_WINDOW_MS`] stand above the new level and the reading before them
//! does not (they are left out, as if never read); otherwise an implausible
//! drop: use counts up to the reading before and again from the one after,
//! never from 0, and the pages between are a gap for a person to review.
//!
//! The points are never changed: a series keeps, beside them, the indices left
//! out and the offset that turns each raw value into the cumulative count.

use super::{Source, ValueKind, is_wrap};
use crate::timestamp::Timestamp;

/// At most this many readings above a confirmed drop's new level are spikes.
pub const MAX_SPIKES: usize = 3;

/// Spikes lie within this much real time of each other.
pub const SPIKE_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// One reading of one meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub at: Timestamp,
    pub value: u64,
    pub source: Source,
    pub kind: ValueKind,
}

/// The order of points at one instant: readings, then a technician's `final`,
/// then `start` (a `final` and a `start` may share an instant).
pub fn sort_points(points: &mut [Point]) {
    points.sort_by_key(|p| (p.at, source_rank(p.source)));
}

fn source_rank(source: Source) -> u8 {
    match source {
        Source::Final => 1,
        Source::Start => 2,
        _ => 0,
    }
}

/// What the series says happened to the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A confirmed reset or board swap: counting goes on from the new counter.
    Reset,
    /// The last reading went down and nothing confirms or rules out a reset yet:
    /// the reading is left out until one does.
    SuspectedReset,
    /// A low reading followed by one back at or above the value before it:
    /// kept, flagged and left out of usage.
    Glitch,
    /// A Counter32 wrap: no pages lost.
    Wrap,
    /// A reading above the level the counter came back to, left out (a typo,
    /// a value from another counter): `before` is the level it rose from,
    /// `after` the spike.
    Spike,
    /// A drop that is neither a reset, a wrap nor spikes: usage counts on from
    /// the lower value, and the pages between are a gap to review.
    ImplausibleDrop,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Reset => "reset",
            EventKind::SuspectedReset => "suspected_reset",
            EventKind::Glitch => "glitch",
            EventKind::Wrap => "wrap",
            EventKind::Spike => "spike",
            EventKind::ImplausibleDrop => "implausible_drop",
        }
    }
}

/// An event at the reading `at` that went from `before` to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesEvent {
    pub at: Timestamp,
    pub kind: EventKind,
    pub before: u64,
    pub after: u64,
}

/// Pages that no reading measured: between the last reading of an old counter
/// and the first of the new one, or across an implausible drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from: Timestamp,
    pub to: Timestamp,
    pub kind: GapKind,
}

/// Why pages went unmeasured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// A counter reset or a board swap without a technician's `final`.
    Reset,
    /// A drop no rule explains: a person should look.
    ImplausibleDrop,
}

impl GapKind {
    pub fn name(self) -> &'static str {
        match self {
            GapKind::Reset => "counter reset",
            GapKind::ImplausibleDrop => "implausible_drop",
        }
    }
}

/// A judged series over sorted points (see [`sort_points`]).
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub points: &'a [Point],
    /// Indices left out of usage (glitches, unconfirmed drops), ascending.
    excluded: Vec<usize>,
    /// (first index, offset): from that index on, cumulative = raw + offset.
    segments: Vec<(usize, i128)>,
    pub events: Vec<SeriesEvent>,
    pub gaps: Vec<Gap>,
}

impl<'a> Series<'a> {
    /// A series over `points` not judged yet: every point included, one
    /// segment (a placeholder until [`Series::new`] runs).
    pub fn empty(points: &'a [Point]) -> Series<'a> {
        Series {
            points,
            excluded: Vec::new(),
            segments: vec![(0, 0)],
            events: Vec::new(),
            gaps: Vec::new(),
        }
    }

    /// Judges `points` (sorted). A counter that only grows is one segment and
    /// costs one pass.
    pub fn new(points: &'a [Point]) -> Series<'a> {
        let mut s = Series::empty(points);
        if only_grows(points) {
            return s;
        }
        let mut last: Option<usize> = None;
        let mut offset: i128 = 0;
        for i in 0..points.len() {
            let p = points[i];
            let Some(l) = last else {
                last = Some(i);
                continue;
            };
            let lp = points[l];
            let cum_last = i128::from(lp.value) + offset;
            let new_offset = if p.source == Source::Start {
                if lp.source != Source::Final {
                    s.gap(lp.at, p.at, GapKind::Reset);
                }
                s.event(p.at, EventKind::Reset, lp.value, p.value);
                Some(cum_last - i128::from(p.value))
            } else if p.value >= lp.value {
                None
            } else if lp.source == Source::Final {
                // The technician's final reading confirms the swap: the new
                // counter starts from 0 and nothing went unmeasured.
                s.event(p.at, EventKind::Reset, lp.value, p.value);
                Some(cum_last)
            } else {
                match s.judge_drop(i, l) {
                    Drop::LeftOut => continue,
                    Drop::Wrap => Some(cum_last + (1 << 32) - i128::from(lp.value)),
                    Drop::Reset => {
                        s.gap(lp.at, p.at, GapKind::Reset);
                        Some(cum_last)
                    }
                    // The spikes are out: the counter grew from the reading
                    // before them (at or below this one) to this one.
                    Drop::Spikes => None,
                    Drop::Implausible => {
                        s.gap(lp.at, p.at, GapKind::ImplausibleDrop);
                        Some(cum_last - i128::from(p.value))
                    }
                }
            };
            if let Some(o) = new_offset {
                offset = o;
                s.segments.push((i, o));
            }
            last = Some(i);
        }
        s
    }

    fn gap(&mut self, from: Timestamp, to: Timestamp, kind: GapKind) {
        self.gaps.push(Gap { from, to, kind });
    }

    fn event(&mut self, at: Timestamp, kind: EventKind, before: u64, after: u64) {
        self.events.push(SeriesEvent {
            at,
            kind,
            before,
            after,
        });
    }

    /// Point `i` is below the last accepted point `l`: the next point tells
    /// a glitch from a confirmed drop; with none, the drop waits, left out. A
    /// confirmed drop is a wrap, a reset, spikes or an implausible drop.
    fn judge_drop(&mut self, i: usize, l: usize) -> Drop {
        let (p, lp) = (self.points[i], self.points[l]);
        let confirmed = match self.points.get(i + 1) {
            None => {
                self.excluded.push(i);
                self.event(p.at, EventKind::SuspectedReset, lp.value, p.value);
                return Drop::LeftOut;
            }
            Some(next) => next.source == Source::Start || next.value < lp.value,
        };
        if !confirmed {
            self.excluded.push(i);
            self.event(p.at, EventKind::Glitch, lp.value, p.value);
            return Drop::LeftOut;
        }
        if is_wrap(lp.value, p.value, p.kind) {
            self.event(p.at, EventKind::Wrap, lp.value, p.value);
            return Drop::Wrap;
        }
        if u128::from(p.value) * 10 <= u128::from(lp.value) {
            self.event(p.at, EventKind::Reset, lp.value, p.value);
            return Drop::Reset;
        }
        if let Some((before, spikes)) = self.spikes(i, l) {
            for s in &spikes {
                let value = self.points[*s].value;
                self.event(
                    self.points[*s].at,
                    EventKind::Spike,
                    self.points[before].value,
                    value,
                );
            }
            self.excluded.extend(spikes);
            self.excluded.sort_unstable();
            return Drop::Spikes;
        }
        self.event(p.at, EventKind::ImplausibleDrop, lp.value, p.value);
        Drop::Implausible
    }

    /// The included points just before `i` (back from `l`) that stand above
    /// point `i`, when they are spikes: at most [`MAX_SPIKES`], within
    /// [`SPIKE_WINDOW_MS`], on the same counter, after a reading at or below
    /// point `i`. Returns that reading and the spikes.
    fn spikes(&self, i: usize, l: usize) -> Option<(usize, Vec<usize>)> {
        let level = self.points[i].value;
        let segment_start = self.segments.last().map_or(0, |(start, _)| *start);
        let mut spikes = Vec::new();
        let mut j = l;
        loop {
            if self.is_included(j) {
                if self.points[j].value <= level {
                    break;
                }
                spikes.push(j);
                if spikes.len() > MAX_SPIKES || j <= segment_start {
                    return None;
                }
            }
            j = j.checked_sub(1)?;
        }
        let (first, last) = (self.points[*spikes.last()?].at, self.points[spikes[0]].at);
        if last - first > SPIKE_WINDOW_MS {
            return None;
        }
        spikes.reverse();
        Some((j, spikes))
    }

    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }

    pub fn is_included(&self, i: usize) -> bool {
        self.excluded.binary_search(&i).is_err()
    }

    /// The offset of the segment point `i` belongs to.
    pub fn offset(&self, i: usize) -> i128 {
        let n = self.segments.partition_point(|(start, _)| *start <= i);
        self.segments[n.saturating_sub(1)].1
    }

    /// The cumulative count at point `i`.
    pub fn cum(&self, i: usize) -> i128 {
        i128::from(self.points[i].value) + self.offset(i)
    }

    /// The last included point at or before `at`.
    pub fn at_or_before(&self, at: Timestamp) -> Option<usize> {
        let mut n = self.points.partition_point(|p| p.at <= at);
        while n > 0 {
            n -= 1;
            if self.is_included(n) {
                return Some(n);
            }
        }
        None
    }

    /// The first included point at or after `at`.
    pub fn at_or_after(&self, at: Timestamp) -> Option<usize> {
        let start = self.points.partition_point(|p| p.at < at);
        (start..self.points.len()).find(|i| self.is_included(*i))
    }

    pub fn first(&self) -> Option<usize> {
        (0..self.points.len()).find(|i| self.is_included(*i))
    }

    pub fn last(&self) -> Option<usize> {
        self.at_or_before(Timestamp::MAX)
    }

    /// Reset gaps that overlap `[from, to)`.
    pub fn gaps_in(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = Gap> + '_ {
        self.gaps
            .iter()
            .copied()
            .filter(move |g| g.from < to && g.to > from)
    }
}

/// True when no value goes down and no technician reading is among the points:
/// the raw values are the cumulative count.
fn only_grows(points: &[Point]) -> bool {
    let technician = |p: &Point| matches!(p.source, Source::Final | Source::Start);
    points.windows(2).all(|w| w[1].value >= w[0].value) && !points.iter().any(technician)
}

enum Drop {
    LeftOut,
    Wrap,
    Reset,
    /// The readings just before the drop were spikes, now left out.
    Spikes,
    Implausible,
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn points(values: &[(i64, u64, Source)]) -> Vec<Point> {
        values
            .iter()
            .map(|(h, value, source)| Point {
                at: ts(h * H),
                value: *value,
                source: *source,
                kind: ValueKind::Integer,
            })
            .collect()
    }

    fn cums(s: &Series) -> Vec<Option<i128>> {
        (0..s.points.len())
            .map(|i| s.is_included(i).then(|| s.cum(i)))
            .collect()
    }

    use Source::{Final, Manual, Polled, Start};

    #[test]
    fn a_growing_counter_is_its_own_cumulative() {
        let p = points(&[(0, 100, Polled), (1, 150, Polled), (2, 150, Manual)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(100), Some(150), Some(150)]);
        assert!(s.events.is_empty() && s.gaps.is_empty());
    }

    #[test]
    fn a_zero_while_booting_is_a_glitch_left_out() {
        let p = points(&[(0, 1000, Polled), (1, 0, Polled), (2, 1010, Polled)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), None, Some(1010)]);
        assert_eq!(s.events[0].kind, EventKind::Glitch);
        assert!(s.gaps.is_empty());
    }

    #[test]
    fn a_confirmed_reset_counts_on_from_zero_and_leaves_a_gap() {
        // 1000 → reset → 30, 50: usage across = (1000 − 1000) + 50 from the new
        // counter; cumulative at 50 = 1000 + 50.
        let p = points(&[(0, 1000, Polled), (5, 30, Polled), (6, 50, Polled)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), Some(1030), Some(1050)]);
        assert_eq!(s.events[0].kind, EventKind::Reset);
        assert_eq!(
            s.gaps,
            [Gap {
                from: ts(0),
                to: ts(5 * H),
                kind: GapKind::Reset
            }]
        );
    }

    #[test]
    fn a_drop_with_nothing_after_it_waits() {
        let p = points(&[(0, 1000, Polled), (1, 10, Polled)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), None]);
        assert_eq!(s.events[0].kind, EventKind::SuspectedReset);
        assert_eq!(s.last(), Some(0));
    }

    #[test]
    fn technician_final_and_start_bridge_a_board_swap() {
        // Old board read 1000 then final 1040 at hour 3; new board starts at
        // 20 and reads 70: cumulative 1040 at the swap, then 1040 + 50.
        let p = points(&[
            (0, 1000, Polled),
            (3, 1040, Final),
            (3, 20, Start),
            (4, 70, Polled),
        ]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), Some(1040), Some(1040), Some(1090)]);
        assert!(s.gaps.is_empty());
        assert_eq!(s.events.len(), 1);
    }

    #[test]
    fn a_start_without_final_leaves_the_pages_before_it_unmeasured() {
        let p = points(&[(0, 1000, Polled), (3, 20, Start), (4, 70, Polled)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), Some(1000), Some(1050)]);
        assert_eq!(
            s.gaps,
            [Gap {
                from: ts(0),
                to: ts(3 * H),
                kind: GapKind::Reset
            }]
        );
    }

    #[test]
    fn a_drop_right_after_final_is_confirmed_without_a_gap() {
        let p = points(&[(0, 1000, Final), (1, 5, Polled)]);
        let s = Series::new(&p);
        assert_eq!(cums(&s), [Some(1000), Some(1005)]);
        assert!(s.gaps.is_empty());
    }

    #[test]
    fn a_counter32_wrap_loses_no_pages() {
        let mut p = points(&[
            (0, 4_294_967_000, Polled),
            (1, 100, Polled),
            (2, 300, Polled),
        ]);
        for x in &mut p {
            x.kind = ValueKind::Counter32;
        }
        let s = Series::new(&p);
        // 4 294 967 296 − 4 294 967 000 = 296 pages to the wrap, then 100.
        assert_eq!(s.cum(1), 4_294_967_000 + 296 + 100);
        assert_eq!(s.events[0].kind, EventKind::Wrap);
        assert!(s.gaps.is_empty());
    }

    #[test]
    fn neighbours_skip_left_out_points() {
        let p = points(&[(0, 1000, Polled), (1, 0, Polled), (2, 1010, Polled)]);
        let s = Series::new(&p);
        assert_eq!(s.at_or_before(ts(H)), Some(0));
        assert_eq!(s.at_or_after(ts(H)), Some(2));
        assert_eq!(s.first(), Some(0));
    }

    /// (index of a point, cumulative) for the plausibility cases, hourly points.
    fn judged(values: &[u64]) -> (Vec<Option<i128>>, Vec<EventKind>, Vec<GapKind>) {
        let rows: Vec<(i64, u64, Source)> = values
            .iter()
            .enumerate()
            .map(|(h, v)| (h as i64, *v, Polled))
            .collect();
        let p = points(&rows);
        let s = Series::new(&p);
        let events = s.events.iter().map(|e| e.kind).collect();
        let gaps = s.gaps.iter().map(|g| g.kind).collect();
        (cums(&s), events, gaps)
    }

    #[test]
    fn a_confirmed_drop_is_judged_plausible_or_not() {
        use EventKind::{ImplausibleDrop, Reset, Spike};
        struct Case {
            name: &'static str,
            values: &'static [u64],
            cums: &'static [Option<i128>],
            events: &'static [EventKind],
            gaps: &'static [GapKind],
        }
        let cases = [
            Case {
                // 1 010 500 is typed 500 too high: the next two readings stay
                // below it, the one before is below 1 010 400. Use 1 000 000 →
                // 1 020 000 = 20 000, not a reset.
                name: "one reading typed too high is a spike",
                values: &[1_000_000, 1_010_500, 1_010_400, 1_010_450, 1_020_000],
                cums: &[
                    Some(1_000_000),
                    None,
                    Some(1_010_400),
                    Some(1_010_450),
                    Some(1_020_000),
                ],
                events: &[Spike],
                gaps: &[],
            },
            Case {
                // 100 000 ≤ 10 % of 1 000 000: a new counter from 0, so
                // 1 000 000 + 100 000 and + 100 more.
                name: "a drop to a tenth or less is a reset",
                values: &[1_000_000, 100_000, 100_100],
                cums: &[Some(1_000_000), Some(1_100_000), Some(1_100_100)],
                events: &[Reset],
                gaps: &[GapKind::Reset],
            },
            Case {
                // A board refurbished at 300 000 replaces one at 1 000 000: use
                // counts on from 300 000 (500 pages), never from 0.
                name: "a refurbished board is an implausible drop, no phantom million",
                values: &[1_000_000, 300_000, 300_500],
                cums: &[Some(1_000_000), Some(1_000_000), Some(1_000_500)],
                events: &[ImplausibleDrop],
                gaps: &[GapKind::ImplausibleDrop],
            },
            Case {
                // Four readings above 150 000: more than three spikes.
                name: "four readings above the new level are not spikes",
                values: &[
                    100_000, 200_000, 200_100, 200_200, 200_300, 150_000, 150_100,
                ],
                cums: &[
                    Some(100_000),
                    Some(200_000),
                    Some(200_100),
                    Some(200_200),
                    Some(200_300),
                    Some(200_300),
                    Some(200_400),
                ],
                events: &[ImplausibleDrop],
                gaps: &[GapKind::ImplausibleDrop],
            },
            Case {
                // Nothing before the readings above 1 500: they cannot be
                // spikes over a lower reading.
                name: "readings above the new level from the first one are not spikes",
                values: &[2_000, 2_100, 1_500, 1_600],
                cums: &[Some(2_000), Some(2_100), Some(2_100), Some(2_200)],
                events: &[ImplausibleDrop],
                gaps: &[GapKind::ImplausibleDrop],
            },
        ];
        for case in cases {
            let (cums, events, gaps) = judged(case.values);
            assert_eq!(cums, case.cums, "{}", case.name);
            assert_eq!(events, case.events, "{}", case.name);
            assert_eq!(gaps, case.gaps, "{}", case.name);
        }
    }

    #[test]
    fn spikes_spread_over_more_than_seven_days_are_an_implausible_drop() {
        let day = 24;
        let p = points(&[
            (0, 100_000, Polled),
            (1, 200_000, Polled),
            (8 * day + 2, 200_100, Polled),
            (8 * day + 3, 150_000, Polled),
            (8 * day + 4, 150_100, Polled),
        ]);
        let s = Series::new(&p);
        assert_eq!(s.events[0].kind, EventKind::ImplausibleDrop);
        // Within seven days they are spikes: 100 000 → 150 100.
        let p = points(&[
            (0, 100_000, Polled),
            (1, 200_000, Polled),
            (7 * day + 1, 200_100, Polled),
            (7 * day + 2, 150_000, Polled),
            (7 * day + 3, 150_100, Polled),
        ]);
        let s = Series::new(&p);
        assert_eq!(
            cums(&s),
            [Some(100_000), None, None, Some(150_000), Some(150_100)]
        );
        assert_eq!(s.events.len(), 2);
        assert!(s.events.iter().all(|e| e.kind == EventKind::Spike));
    }
}
