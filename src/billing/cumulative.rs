//! A period's use so far, counted from its start to dates within it: what
//! a contract's page draws against the commitment line. The pages at a date
//! are the pages a period ending at 00:00 that day would count; the last
//! point of a running period is its standing's actual (readings up to the
//! date), so the chart ends where the table does.

use chrono::NaiveDate;

use super::{DeviceHistory, Engine, PeriodStanding};
use crate::answer;
use crate::contract::dates::add_months;
use crate::contract::{Class, Contract, Overflow, Period, PeriodKind};

/// A period's cumulative use at dates within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodUse {
    pub period: Period,
    pub running: bool,
    /// (date, b/w pages, colour pages) counted from the period's start,
    /// the start itself first (0, 0).
    pub points: Vec<(NaiveDate, u64, u64)>,
}

impl PeriodUse {
    /// As the page reads it.
    pub fn answer(&self) -> answer::PeriodUse {
        answer::PeriodUse {
            kind: self.period.kind.name().to_owned(),
            start: self.period.start.to_string(),
            end: self.period.end.to_string(),
            running: self.running,
            points: self
                .points
                .iter()
                .map(|(date, bw, colour)| answer::UsePoint {
                    date: date.to_string(),
                    bw: *bw,
                    colour: *colour,
                })
                .collect(),
        }
    }
}

/// The periods drawn on `at`: the running one of the billing period's kind
/// and the running year; where none of a kind runs (the contract ended),
/// its last one.
pub fn charted_periods(contract: &Contract, at: NaiveDate) -> Vec<Period> {
    let mut kinds = vec![contract.billing_period(), PeriodKind::Year];
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|kind| {
            let periods = contract.periods_until(kind, at);
            periods
                .iter()
                .find(|p| p.start <= at && at < p.end)
                .or(periods.last())
                .copied()
        })
        .collect()
}

/// The dates a period's use is counted at, up to `at`: every second month
/// from its start (every month of a quarter), and its end once it closed.
/// Those of a half and of its year fall on the same dates.
pub fn use_dates(period: Period, at: NaiveDate) -> Vec<NaiveDate> {
    let step = if period.kind == PeriodKind::Quarter {
        1
    } else {
        2
    };
    let mut dates: Vec<NaiveDate> = (1..)
        .map(|k| add_months(period.start, k * step))
        .take_while(|d| *d < period.end && *d <= at)
        .collect();
    if period.end <= at {
        dates.push(period.end);
    }
    dates
}

/// The dates every charted period on `at` is counted at: the readings
/// around them are read with the standing's.
pub fn chart_dates(contract: &Contract, at: NaiveDate) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = charted_periods(contract, at)
        .into_iter()
        .flat_map(|p| use_dates(p, at))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// The cumulative use of each charted period on `at` from `histories` read
/// around [`chart_dates`] (and the standing's dates), ending a running
/// period at its standing's actual.
pub fn cumulative_use(
    contract: &Contract,
    histories: &[DeviceHistory],
    at: NaiveDate,
    standings: &[PeriodStanding],
) -> Result<Vec<PeriodUse>, Overflow> {
    let empty = DeviceHistory::default();
    let mut engine = Engine::new(contract, histories, &empty);
    let mut out = Vec::new();
    for period in charted_periods(contract, at) {
        let running = period.start <= at && at < period.end;
        let mut points = vec![(period.start, 0, 0)];
        for date in use_dates(period, at) {
            let bw = engine.class_pages(Class::Bw, period.start, date)?.counted;
            let colour = engine
                .class_pages(Class::Colour, period.start, date)?
                .counted;
            points.push((date, bw, colour));
        }
        if running
            && let Some(s) = standings.iter().find(|s| s.period == period)
            && at > period.start
        {
            points.retain(|(d, _, _)| *d < at);
            points.push((at, s.bw.actual, s.colour.actual));
        }
        out.push(PeriodUse {
            period,
            running,
            points,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::reconcile;
    use crate::billing::tests::history;
    use crate::contract::tests::k1;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// K1's device read at 10:00 on the first of each month of 2025 and on
    /// 14 October, using more each month.
    fn monthly() -> Vec<DeviceHistory> {
        let mut rows: Vec<(String, [u64; 4])> = (0..10u64)
            .map(|m| {
                let at = format!("2025-{:02}-01 10:00", m + 1);
                (
                    at,
                    [
                        100_000 + m * m * 900 + m * 4_000,
                        5_000 + m * 80,
                        20_000 + m * 1_100,
                        1_000 + m * 30,
                    ],
                )
            })
            .collect();
        rows.push(("2025-10-14 10:00".into(), [200_000, 6_000, 31_000, 1_400]));
        let rows: Vec<(&str, [u64; 4])> = rows.iter().map(|(a, v)| (a.as_str(), *v)).collect();
        vec![history(crate::billing::tests::SERIAL, &rows)]
    }

    #[test]
    fn the_year_s_use_runs_through_its_closed_half_and_ends_at_the_standing_s_actual() {
        let k1 = k1();
        let at = d("2025-10-15");
        let histories = monthly();
        let standing = reconcile(&k1, &histories, at).unwrap();
        let uses = cumulative_use(&k1, &histories, at, &standing.periods).unwrap();
        let kinds: Vec<(PeriodKind, NaiveDate, bool)> = uses
            .iter()
            .map(|u| (u.period.kind, u.period.start, u.running))
            .collect();
        assert_eq!(
            kinds,
            [
                (PeriodKind::Half, d("2025-07-01"), true),
                (PeriodKind::Year, d("2025-01-01"), true)
            ]
        );
        let (half, year) = (&uses[0], &uses[1]);
        let dates = |u: &PeriodUse| u.points.iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(
            dates(year),
            [
                "2025-01-01",
                "2025-03-01",
                "2025-05-01",
                "2025-07-01",
                "2025-09-01",
                "2025-10-15"
            ]
            .map(d)
        );
        assert_eq!(
            dates(half),
            ["2025-07-01", "2025-09-01", "2025-10-15"].map(d)
        );
        // The year at the half's start is the closed first half's actual.
        let first_half = standing
            .periods
            .iter()
            .find(|p| p.period.kind == PeriodKind::Half && p.period.start == d("2025-01-01"))
            .unwrap();
        assert_eq!(
            (year.points[3].1, year.points[3].2),
            (first_half.bw.actual, first_half.colour.actual)
        );
        // Both end at their running standings' actual.
        for u in &uses {
            let s = standing
                .periods
                .iter()
                .find(|p| p.period == u.period)
                .unwrap();
            assert_eq!(
                u.points.last().map(|p| (p.1, p.2)),
                Some((s.bw.actual, s.colour.actual))
            );
        }
        // Counted on the same dates, the year is the first half plus the half.
        assert_eq!(year.points[4].1, year.points[3].1 + half.points[1].1);
        assert_eq!(year.points[4].2, year.points[3].2 + half.points[1].2);
        // Use only grows.
        for u in &uses {
            assert!(
                u.points
                    .windows(2)
                    .all(|w| w[0].1 <= w[1].1 && w[0].2 <= w[1].2),
                "{u:?}"
            );
        }
        assert!(year.points[5].1 > 0 && year.points[5].2 > 0);
    }

    #[test]
    fn a_half_and_its_year_are_counted_every_second_month_on_the_same_dates() {
        let year = Period {
            kind: PeriodKind::Year,
            start: d("2026-01-01"),
            end: d("2027-01-01"),
        };
        let half = Period {
            kind: PeriodKind::Half,
            start: d("2026-07-01"),
            end: d("2027-01-01"),
        };
        let at = d("2026-11-15");
        assert_eq!(
            use_dates(year, at),
            [
                "2026-03-01",
                "2026-05-01",
                "2026-07-01",
                "2026-09-01",
                "2026-11-01"
            ]
            .map(d)
        );
        assert_eq!(use_dates(half, at), ["2026-09-01", "2026-11-01"].map(d));
        // A closed period ends at its end.
        assert_eq!(
            use_dates(half, d("2027-02-01")),
            ["2026-09-01", "2026-11-01", "2027-01-01"].map(d)
        );
        // On its first day a period has no date yet.
        assert!(use_dates(half, d("2026-07-01")).is_empty());
    }
}
