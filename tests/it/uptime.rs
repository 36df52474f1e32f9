//! Uptime on working days (issue 18 §1) end to end: rounds and polls in a
//! real SQLite file as the collector stores them, `telleverk uptime`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use telleverk::record::{DeviceReading, FailureCause, Outcome, PollRecord, RoundEnd, RoundRecord};
use telleverk::serial::Serial;
use telleverk::storage::Store;

use super::api::{App, VIEWER};
use super::cli::{Workdir, text};

const FAILS: &str = "AAUP00000001";
const OTHERS: [&str; 2] = ["AAUP00000002", "AAUP00000003"];

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A poll of `serial` at `t`: running, or a timeout when `down`.
fn poll(serial: &str, t: DateTime<Utc>, down: bool) -> PollRecord {
    let entry = format!("10.9.0.{}:161 v2c", &serial[11..]);
    let outcome = if down {
        Outcome::Failed {
            cause: FailureCause::Timeout,
            detail: "no answer".into(),
        }
    } else {
        Outcome::Ok(Box::new(DeviceReading {
            serial: Serial::parse(serial).unwrap(),
            device_status: Some(2),
            ..Default::default()
        }))
    };
    PollRecord {
        at: t,
        entry_key: entry.clone(),
        address: entry,
        outcome,
    }
}

/// May 2026 as the collector stores it: a round a day of polls every 15
/// minutes around the clock (interval 15 min), three devices; FAILS times
/// out from Monday 11 May 10:00 up to and including 19 May 11:45 Oslo
/// (08:00–09:45Z), and answers again at 12:00.
fn may_2026(db: telleverk::database::Database) {
    let mut store = Store::open(db).unwrap();
    let (fails, back) = (at("2026-05-11T08:00:00Z"), at("2026-05-19T10:00:00Z"));
    let mut day = at("2026-04-30T22:00:00Z");
    while day < at("2026-05-31T22:00:00Z") {
        let mut records = Vec::new();
        for q in 0..96 {
            let t = day + Duration::minutes(15 * q);
            for serial in std::iter::once(FAILS).chain(OTHERS) {
                records.push(poll(serial, t, serial == FAILS && t >= fails && t < back));
            }
        }
        let round = RoundRecord {
            started: day,
            ended: day + Duration::minutes(15 * 96 - 1),
            interval_ms: Some(15 * 60 * 1000),
            entries: 3,
            end: RoundEnd::Completed,
        };
        store.write_polled_round(&round, &records).unwrap();
        day += Duration::days(1);
    }
}

#[test]
fn example_u1_end_to_end_is_70_83_percent_and_a_breach_of_the_promise() {
    let w = Workdir::new();
    may_2026(w.database());
    let all = std::iter::once(FAILS)
        .chain(OTHERS)
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        w.path().join("telleverk.toml"),
        format!(
            "[storage]\npath = \"telleverk.db\"\n\n[[contract]]\nid = \"U\"\ndevices = [{all}]\nstart = \"2026-01-01\"\n\
             term_months = 36\nbilling = \"arrears\"\nuptime_pct = \"98\"\n\n[[contract.price]]\nfrom = \"2026-01-01\"\n\
             bw = \"0.05\"\ncolour = \"0.5\"\n"
        ),
    )
    .unwrap();
    w.point_config("telleverk.toml");
    // The whole months from May 2026 to last month (7 in December 2026).
    let today = chrono::Local::now().date_naive();
    let since_may =
        ((chrono::Datelike::year(&today) - 2026) * 12 + chrono::Datelike::month(&today) as i32 - 5)
            .to_string();
    let out = w.run(&[
        "uptime",
        "--config",
        "telleverk.toml",
        "--contract",
        "U",
        "--months",
        &since_may,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let failing = items.iter().find(|i| i["serial"] == FAILS).unwrap();
    // 144 working hours in May; 42 lost: (144 − 42) ÷ 144 = 70.83 %.
    assert_eq!(
        failing["months"][0],
        json!({"month": "2026-05", "working_hours": "144.00", "up_hours": "102.00", "down_hours": "42.00",
               "uptime_pct": "70.83", "evidence_pct": "100.00"})
    );
    // No polls after May: no evidence, no uptime.
    assert_eq!(failing["months"][1]["uptime_pct"], Value::Null);
    assert_eq!(failing["months"][1]["evidence_pct"], "0.00");
    // Together: the same 70.83 %, below the promised 98: a breach.
    assert_eq!(
        (
            &failing["total"]["uptime_pct"],
            &failing["promised_pct"],
            &failing["breach"]
        ),
        (&json!("70.83"), &json!("98"), &json!(true))
    );
    for other in items.iter().filter(|i| i["serial"] != FAILS) {
        assert_eq!(
            (&other["months"][0]["uptime_pct"], &other["breach"]),
            (&json!("100.00"), &json!(false))
        );
    }
    let out = w.run(&[
        "uptime",
        "--config",
        "telleverk.toml",
        "--serial",
        FAILS,
        "--months",
        &since_may,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("70.83 %"), "{}", text(&out));
    assert!(text(&out).contains("BREACH"), "{}", text(&out));

    // The counter report of May has each device's uptime, as the API
    // serves it.
    let config = std::fs::read_to_string(w.path().join("telleverk.toml")).unwrap();
    let path = w.config_with(&App::head(), &config);
    let app = App::start(&path, at("2026-06-15T10:00:00Z"), 1);
    let report = app
        .get(
            "/api/v1/reports/counters?from=2026-05-01&to=2026-06-01",
            VIEWER,
        )
        .body;
    let uptime: Vec<(&str, &str)> = report["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|d| {
            (
                d["serial"].as_str().unwrap(),
                d["uptime_pct"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        uptime,
        [
            (FAILS, "70.83"),
            (OTHERS[0], "100.00"),
            (OTHERS[1], "100.00")
        ]
    );
    // The contracts' check holds each device to the promise over the last
    // 6 whole months (December to May on 15 June): the device that failed
    // is alerted, with its figures; the others are not.
    let alerts = app.wait_for("/api/v1/alerts", |v| {
        v["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == "uptime_below_promise"))
    });
    let below: Vec<&Value> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "uptime_below_promise")
        .collect();
    assert_eq!(below.len(), 1, "{alerts}");
    assert_eq!(
        (&below[0]["serial"], &below[0]["contract"]),
        (&json!(FAILS), &json!("U"))
    );
    let message = below[0]["message"].as_str().unwrap();
    assert!(
        message.contains("70.83 %")
            && message.contains("2025-12 – 2026-05")
            && message.contains("98 %"),
        "{message}"
    );
    app.stop().expect("clean shutdown");
}

#[test]
fn bad_uptime_settings_are_named() {
    let w = Workdir::new();
    for (setting, says) in [
        (
            "[[contract]]\nid = \"U\"\ndevices = [\"A1\"]\nstart = \"2026-01-01\"\nterm_months = 36\nbilling = \"arrears\"\nuptime_pct = \"101\"\n[[contract.price]]\nfrom = \"2026-01-01\"\nbw = \"0.05\"\ncolour = \"0.5\"\n",
            "contract[0].uptime_pct",
        ),
        ("[calendar]\nclosed = [\"24.12.2026\"]\n", "calendar.closed"),
    ] {
        std::fs::write(w.path().join("bad.toml"), setting).unwrap();
        let out = w.run(&["check-config", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
}

/// A round in which all three devices failed is the collector's own
/// outage: no evidence for anyone. Monday 2026-06-01, a round every 15
/// minutes: 08:00–09:45 Oslo every poll times out; 12:00–12:45 only FAILS
/// does. FAILS: 8 working hours, 2 without evidence, 1 down, 5 up → 5 ÷ 6
/// = 83.33 %; the others 6 of 6 up.
#[test]
fn a_round_where_every_device_failed_is_no_evidence() {
    let w = Workdir::new();
    let mut store = Store::open(w.database()).unwrap();
    let day = at("2026-05-31T22:00:00Z");
    for q in 0..96 {
        let t = day + Duration::minutes(15 * q);
        let oslo_hour = q / 4;
        let mut records = Vec::new();
        for serial in std::iter::once(FAILS).chain(OTHERS) {
            let down = (8..10).contains(&oslo_hour) || (serial == FAILS && oslo_hour == 12);
            records.push(poll(serial, t, down));
        }
        let round = RoundRecord {
            started: t,
            ended: t + Duration::seconds(5),
            interval_ms: Some(15 * 60 * 1000),
            entries: 3,
            end: RoundEnd::Completed,
        };
        store.write_polled_round(&round, &records).unwrap();
    }
    drop(store);
    std::fs::write(
        w.path().join("telleverk.toml"),
        "[storage]\npath = \"telleverk.db\"\n",
    )
    .unwrap();
    w.point_config("telleverk.toml");
    let today = chrono::Local::now().date_naive();
    let since_june =
        ((chrono::Datelike::year(&today) - 2026) * 12 + chrono::Datelike::month(&today) as i32 - 6)
            .to_string();
    let out = w.run(&[
        "uptime",
        "--config",
        "telleverk.toml",
        "--months",
        &since_june,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let june = |serial: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["serial"] == serial)
            .unwrap()["months"][0]
            .clone()
    };
    assert_eq!(
        june(FAILS),
        json!({"month": "2026-06", "working_hours": "176.00", "up_hours": "5.00", "down_hours": "1.00",
               "uptime_pct": "83.33", "evidence_pct": "3.41"})
    );
    assert_eq!(
        (&june(OTHERS[0])["up_hours"], &june(OTHERS[0])["down_hours"]),
        (&json!("6.00"), &json!("0.00"))
    );
}

/// Issue 18 §2 (the forecast): a toner falling 2 points a working day, read
/// each morning for the last ten working days, runs out 30 working days
/// after the first reading; `telleverk supplies` says when.
#[test]
fn supplies_are_forecast_from_their_levels_against_working_time() {
    use telleverk::supplies::Supply;
    use telleverk::uptime::Calendar;
    let w = Workdir::new();
    let calendar = Calendar::default();
    // The last ten working days before today, 09:00 Oslo.
    let mut days = Vec::new();
    let mut day = chrono::Local::now().date_naive();
    while days.len() < 10 {
        day = day.pred_opt().unwrap();
        if calendar.is_working_day(day) {
            days.push(day);
        }
    }
    days.reverse();
    let mut store = Store::open(w.database()).unwrap();
    let nine = |d: chrono::NaiveDate| {
        telleverk::contract::dates::local_instant(d.and_hms_opt(9, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    for (i, d) in days.iter().enumerate() {
        let toner = Supply {
            index: 1,
            description: "Toner (Black)".into(),
            kind: "toner".into(),
            colour: Some("black".into()),
            level: 60 - 2 * i as i64,
            max: 100,
            percent: Some(60 - 2 * i as i64),
        };
        let record = PollRecord {
            at: nine(*d),
            entry_key: "10.9.0.9:161 v2c".into(),
            address: "10.9.0.9:161".into(),
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: Serial::parse(FAILS).unwrap(),
                supplies: Some(vec![toner]),
                ..Default::default()
            })),
        };
        store.write_round(&[record]).unwrap();
    }
    drop(store);
    std::fs::write(
        w.path().join("telleverk.toml"),
        "[storage]\npath = \"telleverk.db\"\n",
    )
    .unwrap();
    w.point_config("telleverk.toml");
    let out = w.run(&["supplies", "--config", "telleverk.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let toner = &list["items"][0]["supplies"][0];
    // 60 points at 2 a working day: 30 working days (240 working hours)
    // after the first reading.
    let first = telleverk::timestamp::Timestamp::from(nine(days[0]));
    let empty =
        telleverk::contract::dates::local_date(calendar.after_working_ms(first, 240 * 3_600_000));
    assert_eq!(toner["empty_on"], empty.to_string(), "{toner}");
    assert_eq!(toner["percent"], 42);
    assert_eq!(
        toner["empty_between"],
        json!([empty.to_string(), empty.to_string()])
    );
    assert!(
        toner["working_days"]
            .as_u64()
            .is_some_and(|d| (19..=21).contains(&d)),
        "{toner}"
    );
    let shown = text(&w.run(&["supplies", "--config", "telleverk.toml"]));
    assert!(
        shown.contains(&format!("Toner (Black)  42 %   {empty}")),
        "{shown}"
    );
}
