//! `telleverk poll --once` against snmpsim serving the recordings in
//! tests/data. Every expected value is written by hand from tests/data/README.md.

use serde_json::json;

use super::agents::{
    AuthProto, GarbageAgent, GarbageMode, PrivProto, Snmpd, SnmpdOptions, V3User, free_udp_port,
    snmpsim,
};
use super::cli::{Workdir, expect, meters, text, v2c};

fn sim() -> u16 {
    snmpsim().port
}

/// One v2c poll of a recording snmpsim serves, which must answer `ok` as
/// `model`.
fn polled_ok(recording: &str, model: &str) -> serde_json::Value {
    let w = Workdir::new();
    w.config(&v2c(sim(), recording));
    let p = w.poll().remove(0);
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["model"], model, "{p}");
    p
}

#[test]
fn colour_bizhub_over_v2c_gives_every_meter_supply_and_status() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "bizhub-c300i"));
    let polled = w.poll();
    assert_eq!(polled.len(), 1);
    let p = &polled[0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["serial"], "AA2J021004711");
    assert_eq!(p["model"], "bizhub C300i");
    assert_eq!(p["device_status"], "warning");
    assert_eq!(p["printer_errors"], json!(["service_requested"]));
    assert_eq!(
        meters(p),
        expect(&[
            ("total", 85_614),
            ("bw_copy", 12_873),
            ("bw_print", 48_211),
            // 3 417 + 287 + 143 and 20 593 + 61 + 29:
            ("colour_copy", 3_847),
            ("colour_print", 20_683),
            ("single_colour_copy", 287),
            ("single_colour_print", 61),
            ("two_colour_copy", 143),
            ("two_colour_print", 29),
            // 412 + 1 306; 98 + 7 + 5 + 751 + 3 + 2:
            ("bw_large", 1_718),
            ("colour_large", 866),
            ("duplex", 21_957),
            ("scan_total", 9_382),
            // derived: 12 873 + 48 211; 3 847 + 20 683:
            ("bw_total", 61_084),
            ("colour_total", 24_530),
        ])
    );
    let supplies = p["supplies"].as_array().unwrap();
    assert_eq!(supplies.len(), 11);
    assert_eq!(
        supplies[0],
        json!({"description": "Toner (Cyan)", "kind": "toner", "colour": "cyan", "level": 62, "max": 100, "percent": 62})
    );
    assert_eq!(supplies[3]["colour"], "black");
    assert_eq!(supplies[7]["kind"], "opc");
    assert_eq!(supplies[8]["kind"], "waste_toner");
    assert_eq!(supplies[8]["colour"], json!(null));
    assert_eq!(supplies[9]["kind"], "fuser");
    assert_eq!(supplies[10]["kind"], "transfer_unit");
}

#[test]
fn mono_bizhub_has_no_colour_meters() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "bizhub-4050i"));
    let p = &w.poll()[0];
    assert_eq!(p["model"], "bizhub 4050i");
    assert_eq!(p["device_status"], "running");
    assert_eq!(p["printer_errors"], json!([]));
    assert_eq!(
        meters(p),
        expect(&[
            ("total", 37_861),
            ("bw_copy", 7_342),
            ("bw_print", 30_519),
            ("bw_total", 37_861), // 7 342 + 30 519
            ("bw_large", 0),      // real zeros, not absent
            ("duplex", 14_208),
            ("scan_total", 5_127),
        ])
    );
    let supplies = p["supplies"].as_array().unwrap();
    assert_eq!(supplies[0]["kind"], "toner_cartridge");
    assert_eq!(supplies[0]["colour"], "black");
    assert_eq!(supplies[0]["percent"], 41);
}

#[test]
fn gaps_and_sentinels_are_absent_meters_and_raw_levels() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "bizhub-gaps"));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(
        p["printer_errors"],
        json!(["low_toner", "input_tray_missing"])
    );
    assert_eq!(
        meters(p),
        expect(&[
            ("total", 33_572),
            ("bw_copy", 5_231),
            ("bw_print", 17_408),
            ("colour_copy", 2_076), // 1 964 + 112; two-colour is -1
            ("colour_print", 8_857),
            ("single_colour_copy", 112),
            ("bw_large", 233),    // the print cell is missing
            ("colour_large", 41), // 41 + 0; two-colour -1, print cells missing
            ("scan_total", 2_716),
            ("bw_total", 22_639),     // 5 231 + 17 408
            ("colour_total", 10_933), // 2 076 + 8 857
        ])
    );
    let s = p["supplies"].as_array().unwrap();
    let levels: Vec<_> = s
        .iter()
        .map(|s| (s["level"].clone(), s["max"].clone(), s["percent"].clone()))
        .collect();
    assert_eq!(
        levels,
        vec![
            (json!(-2), json!(100), json!(null)),
            (json!(-3), json!(100), json!(null)),
            (json!(40), json!(-2), json!(null)),
            (json!(-1), json!(100), json!(null)),
        ]
    );
    assert_eq!(s[2]["colour"], "black");
}

/// Issue 16, class 1: an entry or rebadged bizhub answers the Printer-MIB
/// but no Konica Minolta counter. Its life count is its total, and its
/// black-only supplies make it mono, so the total is its b/w total too.
#[test]
fn a_mono_bizhub_without_km_counters_reads_its_life_count() {
    let p = &polled_ok("bizhub-25e", "bizhub 25e");
    assert_eq!(p["serial"], "A6WT011004321");
    assert_eq!(
        meters(p),
        expect(&[("total", 21_733), ("bw_total", 21_733)])
    );
    assert_eq!(p["supplies"][1]["kind"], "opc");
}

/// A colour bizhub that answers only the life count is still a colour
/// device (its colorants say so): its total is never read as b/w pages.
#[test]
fn a_colour_bizhub_with_only_the_life_count_has_a_total_and_no_bw() {
    let p = &polled_ok("bizhub-c3100p", "bizhub C3100P");
    assert_eq!(meters(p), expect(&[("total", 40_212)]));
    assert_eq!(p["supplies"][0]["colour"], "cyan");
}

/// Issue 16, class 2: the KM function counters without KM's own total. The
/// device's own total is the life count (27 pages more than b/w + colour:
/// reports and test pages), not the sum.
#[test]
fn a_bizhub_without_km_total_takes_its_own_life_count_not_the_sum() {
    let p = &polled_ok("bizhub-c258", "bizhub C258");
    let m = &p["meters"];
    assert_eq!(m["total"], 85_641);
    assert_eq!(m["bw_total"], 61_084); // 12 873 + 48 211
    assert_eq!(m["colour_total"], 24_530); // 3 847 + 20 683
}

/// Issue 16, class 3: a supplies table without prtMarkerSuppliesType. The
/// kind comes from the description (here Norwegian), so a toner still is
/// a toner and raises its alerts.
#[test]
fn supplies_without_a_type_take_their_kind_from_the_description() {
    let p = &polled_ok("bizhub-c250i-notype", "bizhub C250i");
    let kinds: Vec<(String, String, serde_json::Value)> = p["supplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["description"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                s["colour"].clone(),
            )
        })
        .collect();
    let expected = [
        ("Toner (Cyan)", "toner", json!("cyan")),
        ("Toner (Magenta)", "toner", json!("magenta")),
        ("Toner (Gul)", "toner", json!("yellow")),
        ("Toner (Svart)", "toner", json!("black")),
        ("Trommelenhet (Cyan)", "opc", json!("cyan")),
        ("Trommelenhet (Magenta)", "opc", json!("magenta")),
        ("Trommelenhet (Gul)", "opc", json!("yellow")),
        ("Trommelenhet (Svart)", "opc", json!("black")),
        ("Beholder for spilltoner", "waste_toner", json!(null)),
        ("Fikseringsenhet", "fuser", json!(null)),
        ("Overføringsbelte", "transfer_unit", json!(null)),
    ]
    .map(|(d, k, c)| (d.to_owned(), k.to_owned(), c));
    assert_eq!(kinds, expected);
}

#[test]
fn snmp_v1_resends_without_missing_objects() {
    let w = Workdir::new();
    w.config(&format!(
        "[[device]]\naddress = \"127.0.0.1:{}\"\nversion = \"1\"\ncommunity = \"bizhub-gaps\"\n",
        sim()
    ));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["meters"]["total"], 33_572);
    assert_eq!(p["meters"]["bw_large"], 233);
    assert!(p["meters"].get("duplex").is_none());
    assert_eq!(p["supplies"].as_array().unwrap().len(), 4);
}

#[test]
fn a_non_km_printer_uses_the_printer_mib() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "hp-laserjet"));
    let p = &w.poll()[0];
    assert_eq!(p["serial"], "PHCBB41297");
    // Mono: total serves as bw_total.
    assert_eq!(
        meters(p),
        expect(&[("total", 51_273), ("bw_total", 51_273)])
    );
    assert_eq!(p["supplies"][0]["percent"], 57);
}

#[test]
fn a_device_without_serial_needs_one_in_its_entry() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "bizhub-noserial"));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "error");
    assert_eq!(p["error"], "no_serial");
    w.config(&format!(
        "{}serial = \"A0ED021000001\"\n",
        v2c(sim(), "bizhub-noserial")
    ));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "ok");
    assert_eq!(p["serial"], "A0ED021000001");
    assert_eq!(p["meters"]["total"], 124_371);
}

#[test]
fn a_new_profile_file_polls_an_unknown_model_without_rebuild() {
    let w = Workdir::new();
    w.config(&v2c(sim(), "unknown-vendor"));
    // The generic Printer-MIB profile matches any vendor but finds no serial.
    assert_eq!(w.poll()[0]["error"], "no_serial");
    std::fs::create_dir(w.path().join("profiles")).unwrap();
    std::fs::write(
        w.path().join("profiles/acme.toml"),
        r#"
id = "acme-pagemaster"
extends = "printer-mib"
sys_object_id_prefix = "1.3.6.1.4.1.99999.1."
[identity]
model = "1.3.6.1.4.1.99999.1.7.0"
serial = "1.3.6.1.4.1.99999.3.0"
[meters]
total = "1.3.6.1.4.1.99999.2.1.0"
colour_total = "1.3.6.1.4.1.99999.2.2.0"
"#,
    )
    .unwrap();
    w.config_with(
        "[collector]\ntimeout = \"1s\"\nretries = 0\n[profiles]\ndir = \"profiles\"\n",
        &v2c(sim(), "unknown-vendor"),
    );
    let p = &w.poll()[0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["serial"], "ACME-PM9-000417");
    assert_eq!(p["model"], "PageMaster 9000");
    // No b/w meter: a colour device's b/w is its own total less its colour
    // total, 44 021 − 9 876 = 34 145.
    assert_eq!(
        meters(p),
        expect(&[
            ("total", 44_021),
            ("colour_total", 9_876),
            ("bw_total", 34_145)
        ])
    );
}

fn v3_entry(
    port: u16,
    user: &str,
    auth: &str,
    auth_pass: &str,
    privacy: Option<(&str, &str)>,
    context: &str,
) -> String {
    let mut s = format!(
        "[[device]]\naddress = \"127.0.0.1:{port}\"\n[device.v3]\nuser = \"{user}\"\nauth_protocol = \"{auth}\"\nauth_password = \"{auth_pass}\"\ncontext = \"{context}\"\n"
    );
    if let Some((proto, pass)) = privacy {
        s.push_str(&format!(
            "privacy_protocol = \"{proto}\"\nprivacy_password = \"{pass}\"\n"
        ));
    }
    s
}

#[test]
fn snmpv3_auth_priv_with_every_protocol_and_context() {
    let w = Workdir::new();
    let port = sim();
    let entries = [
        v3_entry(
            port,
            "telleverk-sha256-aes",
            "sha256",
            "authpass-sha256",
            Some(("aes128", "privpass-aes128")),
            "bizhub-c300i",
        ),
        v3_entry(
            port,
            "telleverk-sha256-aes",
            "sha256",
            "authpass-sha256",
            Some(("aes128", "privpass-aes128")),
            "bizhub-4050i",
        ),
        v3_entry(
            port,
            "telleverk-sha512-aes256",
            "sha512",
            "authpass-sha512",
            Some(("aes256", "privpass-aes256")),
            "bizhub-gaps",
        ),
        v3_entry(
            port,
            "telleverk-sha1-authonly",
            "sha1",
            "authpass-sha1",
            None,
            "",
        ),
    ];
    // Protocols, not timing, are tested here: snmpsim works out v3 keys in
    // Python, slow on a machine busy with the rest of the suite.
    w.config_with(
        "[collector]\ntimeout = \"3s\"\nretries = 1\n",
        &entries.concat(),
    );
    let polled = w.poll();
    let serials: Vec<_> = polled.iter().map(|p| p["serial"].clone()).collect();
    assert_eq!(
        serials,
        vec![
            json!("AA2J021004711"),
            json!("AAK6021017342"),
            json!("AA7R021002345"),
            json!("AA2J021004711")
        ],
        "{polled:?}"
    );
    assert_eq!(polled[0]["meters"]["colour_large"], 866);
    assert_eq!(polled[2]["supplies"].as_array().unwrap().len(), 4);
}

#[test]
fn snmpv3_md5_des_against_net_snmp() {
    // snmpsim (pysnmp) pads DES ciphertext with a whole extra block where the
    // scoped PDU fills its last one; RFC 3414 receivers may reject that, and
    // async-snmp does. net-snmp pads as the RFC says, so DES is tested there.
    let mut options = SnmpdOptions::from_recording("bizhub-4050i");
    options.users = vec![V3User::auth_priv(
        "telleverk-md5-des",
        (AuthProto::Md5, "authpass-md5"),
        (PrivProto::Des, "privpass-des"),
    )];
    let agent = Snmpd::start(options);
    let w = Workdir::new();
    w.config(&v3_entry(
        agent.port,
        "telleverk-md5-des",
        "md5",
        "authpass-md5",
        Some(("des", "privpass-des")),
        "",
    ));
    for _ in 0..2 {
        // The second run restarts the DES salt epoch stored in the database.
        let p = &w.poll()[0];
        assert_eq!(p["status"], "ok", "{p}");
        assert_eq!(p["serial"], "AAK6021017342");
        assert_eq!(p["meters"]["bw_total"], 37_861);
        assert_eq!(p["supplies"].as_array().unwrap().len(), 2);
    }
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    let epoch: i64 = conn
        .query_row("SELECT engine_boots FROM des_salt", [], |r| r.get(0))
        .unwrap();
    assert_eq!(epoch, 2);
}

#[test]
fn bad_credentials_and_dead_ports_fail_cleanly_without_hurting_others() {
    let w = Workdir::new();
    let port = sim();
    // Garbage is never taken for an answer. Bytes without a request-id cannot
    // be matched to a request and read as silence (timeout); a reply that
    // carries the request-id but cannot be decoded is seen (malformed).
    let random = GarbageAgent::start(GarbageMode::Random);
    let broken = GarbageAgent::start(GarbageMode::BrokenReply);
    let dead = free_udp_port();
    let entries = [
        v2c(port, "bizhub-c300i"),
        v2c(port, "no-such-community"),
        v3_entry(
            port,
            "telleverk-sha256-aes",
            "sha256",
            "wrong-password",
            Some(("aes128", "privpass-aes128")),
            "bizhub-4050i",
        ),
        v3_entry(
            port,
            "nobody-here",
            "sha256",
            "authpass-sha256",
            Some(("aes128", "privpass-aes128")),
            "bizhub-4050i",
        ),
        v2c(dead, "public"),
        v2c(random.port, "public"),
        v2c(broken.port, "public"),
        v2c(port, "hp-laserjet"),
    ];
    w.config(&entries.concat());
    let out = w.run(&["poll", "--once", "--json", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for secret in [
        "wrong-password",
        "authpass-sha256",
        "privpass-aes128",
        "no-such-community",
    ] {
        assert!(!all.contains(secret), "secret {secret} printed:\n{all}");
    }
    let polled = super::cli::json_lines(&out);
    let causes: Vec<_> = polled
        .iter()
        .map(|p| p.get("error").cloned().unwrap_or(p["status"].clone()))
        .collect();
    assert_eq!(
        causes,
        vec![
            json!("ok"),
            json!("timeout"),
            json!("authentication"),
            json!("authentication"),
            json!("timeout"),
            json!("timeout"),
            json!("malformed"),
            json!("ok"),
        ],
        "{polled:?}"
    );
    assert!(
        polled[2]["detail"]
            .as_str()
            .unwrap()
            .contains("wrong digest")
    );
    assert!(
        polled[3]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown user")
    );
    assert!(random.received() > 0 && broken.received() > 0);
    assert_eq!(polled[7]["meters"]["total"], 51_273);
}

/// `discover` lists a device without the Printer-MIB apart (not a printer),
/// and finds a printer of another vendor with the Printer-MIB profile.
#[test]
fn discover_tells_printers_from_other_snmp_devices() {
    let w = Workdir::new();
    let port = sim().to_string();
    for (community, printer, profile, described) in [
        (
            "unknown-vendor",
            false,
            json!("printer-mib"),
            "Acme PageMaster 9000",
        ),
        (
            "hp-laserjet",
            true,
            json!("printer-mib"),
            "HP LaserJet Enterprise M507",
        ),
    ] {
        w.config_with(
            &format!("[discovery]\ncommunities = [\"{community}\"]\ntimeout = \"1s\"\n"),
            "",
        );
        let out = w.run(&[
            "discover",
            "--config",
            "telleverk.toml",
            "--port",
            &port,
            "127.0.0.1",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let found = super::cli::json_lines(&out);
        assert_eq!(found.len(), 1, "{}", text(&out));
        assert_eq!(found[0]["printer"], printer, "{community}");
        assert_eq!(found[0]["profile"], profile, "{community}");
        assert!(
            found[0]["sys_descr"]
                .as_str()
                .unwrap()
                .starts_with(described),
            "{}",
            found[0]
        );
        let out = w.run(&[
            "discover",
            "--config",
            "telleverk.toml",
            "--port",
            &port,
            "127.0.0.1",
        ]);
        let shown = text(&out);
        assert_eq!(
            shown.contains("not printers (no Printer-MIB):"),
            !printer,
            "{shown}"
        );
    }
}

/// Issue 16 §1: every bizhub generation recorded reads its totals and its
/// first supply (see tests/data/README.md for each shape).
#[test]
fn every_recorded_bizhub_generation_reads_its_totals() {
    // recording, model, serial, total, bw_total, colour_total, first supply's kind
    let generations = [
        (
            "bizhub-c224",
            "bizhub C224",
            "A5C0021023456",
            85_614,
            61_084,
            Some(24_530),
            "toner_cartridge",
        ),
        (
            "bizhub-c258",
            "bizhub C258",
            "A7PU021012345",
            85_641,
            61_084,
            Some(24_530),
            "toner",
        ),
        (
            "bizhub-c300i",
            "bizhub C300i",
            "AA2J021004711",
            85_614,
            61_084,
            Some(24_530),
            "toner",
        ),
        (
            "bizhub-c250i-notype",
            "bizhub C250i",
            "AA2K021005555",
            85_614,
            61_084,
            Some(24_530),
            "toner",
        ),
        (
            "bizhub-4050i",
            "bizhub 4050i",
            "AAK6021017342",
            37_861,
            37_861,
            None,
            "toner_cartridge",
        ),
        (
            "bizhub-4750i",
            "bizhub 4750i",
            "AAK7021019876",
            37_861,
            37_861,
            None,
            "toner_cartridge",
        ),
        (
            "bizhub-25e",
            "bizhub 25e",
            "A6WT011004321",
            21_733,
            21_733,
            None,
            "toner",
        ),
    ];
    for (recording, model, serial, total, bw, colour, kind) in generations {
        let p = polled_ok(recording, model);
        assert_eq!(p["serial"], serial, "{recording}");
        assert_eq!(p["meters"]["total"], total, "{recording}");
        assert_eq!(p["meters"]["bw_total"], bw, "{recording}");
        assert_eq!(
            p["meters"].get("colour_total").and_then(|v| v.as_u64()),
            colour,
            "{recording}"
        );
        assert_eq!(p["supplies"][0]["kind"], kind, "{recording}");
    }
}
