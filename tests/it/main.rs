//! Integration tests of telleverk against real SNMP agents.

#![allow(clippy::disallowed_methods)] // benchmarks and tests measure real time
#![allow(clippy::string_slice)] // tests slice text they wrote themselves

mod agents;
mod api;
mod backend;
mod backends;
mod billing;
mod cli;
mod crash;
mod failures;
mod faults;
mod history;
mod limits;
mod notify;
mod poll;
mod reports;
mod schemathesis;
mod sim;
mod simfleet;
mod sites;
mod supplies;
mod tidy;
mod uptime;
mod web;

mod harness {
    //! Smoke tests of the agents themselves (tests/it/agents.rs), checked with
    //! net-snmp's command-line tools.

    use super::agents::{
        self, GarbageAgent, GarbageMode, Snmpd, SnmpdOptions, answers_snmp, net_snmp, snmpsim,
        test_users,
    };
    use std::net::UdpSocket;
    use std::time::Duration;

    const SYS_OBJECT_ID: &str = "1.3.6.1.2.1.1.2.0";
    const SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";
    const LIFE_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.4.1.1";
    const ERROR_STATE: &str = "1.3.6.1.2.1.25.3.5.1.2.1";
    const DEVICE_STATUS: &str = "1.3.6.1.2.1.25.3.2.1.5.1";
    const KM_MODEL: &str = "1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0";
    const KM_TOTAL: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0";
    const SUPPLY_LEVELS: &str = "1.3.6.1.2.1.43.11.1.1.9";

    /// A v2c GetRequest for sysUpTime.0 with community "public", request-id 0x12345678.
    const V2C_GET: [u8; 40] = [
        0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xA0, 0x19,
        0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0B, 0x30,
        0x09, 0x06, 0x05, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00,
    ];

    fn v2c_get(community: &str, target: &str, oids: &[&str]) -> String {
        let args = [&["-v2c", "-c", community, target][..], oids].concat();
        net_snmp("snmpget", &args)
    }

    fn v3(tool: &str, user: &agents::V3User, context: &str, target: &str, oid: &str) -> String {
        let security = user.net_snmp_args();
        let mut args: Vec<&str> = security.iter().map(String::as_str).collect();
        args.extend(["-n", context, target, oid]);
        net_snmp(tool, &args)
    }

    fn recording_value(name: &str, oid: &str) -> String {
        let text = agents::recording(name);
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{oid}|")));
        line.expect("the OID is in the recording")
            .splitn(3, '|')
            .nth(2)
            .unwrap()
            .to_owned()
    }

    #[test]
    fn snmpsim_serves_every_recording_by_community() {
        let target = snmpsim().addr().to_string();
        for name in ["bizhub-c300i", "bizhub-4050i", "hp-laserjet", "bizhub-gaps"] {
            let expected = recording_value(name, SYS_OBJECT_ID);
            let out = v2c_get(name, &target, &[SYS_OBJECT_ID]);
            assert_eq!(
                out,
                format!(".{SYS_OBJECT_ID} = OID: .{expected}\n"),
                "{name}"
            );
        }
        for name in ["bizhub-noserial", "unknown-vendor"] {
            let out = net_snmp("snmpget", &["-v1", "-c", name, &target, SYS_OBJECT_ID]);
            assert!(
                out.contains(&recording_value(name, SYS_OBJECT_ID)),
                "{name}: {out}"
            );
        }
    }

    #[test]
    fn snmpsim_knows_every_v3_user_and_context() {
        let target = snmpsim().addr().to_string();
        for user in test_users() {
            let out = v3("snmpget", &user, "bizhub-4050i", &target, KM_MODEL);
            assert!(
                out.ends_with("STRING: \"bizhub 4050i\"\n"),
                "{}: {out}",
                user.name
            );
            let out = v3("snmpget", &user, "", &target, KM_MODEL);
            assert!(
                out.ends_with("\"KONICA MINOLTA bizhub C300i\"\n"),
                "{}: {out}",
                user.name
            );
        }
    }

    #[test]
    fn snmpsim_serves_sentinels_gaps_and_hex_strings() {
        let target = snmpsim().addr().to_string();
        let missing_cell = "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.1.2";
        let out = v2c_get(
            "bizhub-gaps",
            &target,
            &[ERROR_STATE, missing_cell, SUPPLY_LEVELS],
        );
        assert!(out.contains("Hex-STRING: 20 80"), "{out}");
        assert!(
            out.contains(&format!(".{missing_cell} = No Such Instance")),
            "{out}"
        );
        let out = v2c_get(
            "bizhub-4050i",
            &target,
            &["1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.2"],
        );
        assert!(out.ends_with("INTEGER: -1\n"), "{out}");
        let out = v2c_get("bizhub-noserial", &target, &[SERIAL]);
        assert_eq!(out, format!(".{SERIAL} = \"\"\n"));
    }

    /// The value part (after " = ") of a v2c GET of `oid`.
    fn get_value(target: &str, oid: &str) -> String {
        let out = v2c_get("public", target, &[oid]);
        out.trim_end()
            .split_once(" = ")
            .expect("OID = VALUE")
            .1
            .to_owned()
    }

    fn snmpd_with_public(recording: &str) -> Snmpd {
        let mut options = SnmpdOptions::from_recording(recording);
        options.communities = vec!["public".to_owned()];
        options.users = test_users();
        Snmpd::start(options)
    }

    #[test]
    fn snmpd_serves_its_options_and_live_values() {
        let snmpd = snmpd_with_public("bizhub-gaps");
        let target = snmpd.addr().to_string();
        let expected = [
            (
                "1.3.6.1.2.1.1.1.0",
                "STRING: \"KONICA MINOLTA bizhub C250i\"",
            ),
            (SYS_OBJECT_ID, "OID: .1.3.6.1.4.1.18334.1.2.1.2.1.141.1.3"),
            (DEVICE_STATUS, "INTEGER: 3"),
            (ERROR_STATE, "Hex-STRING: 20 80"),
            (KM_TOTAL, "INTEGER: 33572"),
            ("1.3.6.1.2.1.43.11.1.1.9.1.9", "INTEGER: -1"),
        ];
        for (oid, value) in expected {
            assert_eq!(get_value(&target, oid), value, "{oid}");
        }
        for user in test_users() {
            let out = v3("snmpget", &user, "", &target, SERIAL);
            assert!(
                out.ends_with("STRING: \"AA7R021002345\"\n"),
                "{}: {out}",
                user.name
            );
        }
        snmpd.set_values(&agents::recording("bizhub-gaps").replace("|65|33572", "|65|33600"));
        assert_eq!(get_value(&target, LIFE_COUNT), "Counter32: 33600");
    }

    #[test]
    fn snmpd_walks_in_numeric_oid_order() {
        let snmpd = snmpd_with_public("bizhub-c300i");
        let target = snmpd.addr().to_string();
        let walk = |oid| net_snmp("snmpwalk", &["-v2c", "-c", "public", &target, oid]);
        let out = walk(SUPPLY_LEVELS);
        let indices: Vec<&str> = out
            .lines()
            .filter_map(|line| line.split(" = ").next()?.rsplit('.').next())
            .collect();
        assert_eq!(
            indices,
            ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"],
            "{out}"
        );
        let out = walk("1.3.6.1.2.1.25.3");
        assert_eq!(
            out.lines().count(),
            3,
            "only the recording's hr values: {out}"
        );
    }

    #[test]
    fn snmpd_stops_when_dropped() {
        let snmpd = Snmpd::start(SnmpdOptions::default());
        let port = snmpd.port;
        assert!(answers_snmp(port, Duration::from_secs(1)));
        drop(snmpd);
        assert!(!answers_snmp(port, Duration::from_millis(300)));
    }

    fn exchange(agent: &GarbageAgent, request: &[u8]) -> Vec<u8> {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket.send_to(request, agent.addr()).unwrap();
        let mut buf = [0u8; 1500];
        let len = socket.recv(&mut buf).expect("the garbage agent answers");
        buf[..len].to_vec()
    }

    #[test]
    fn garbage_agents_answer_with_malformed_bytes() {
        let random = GarbageAgent::start(GarbageMode::Random);
        assert_eq!(exchange(&random, &V2C_GET)[0], 0xFF);
        let broken = GarbageAgent::start(GarbageMode::BrokenReply);
        let reply = exchange(&broken, &V2C_GET);
        let header = [
            0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xA2,
        ];
        assert_eq!(reply[0], 0x30);
        assert_eq!(
            usize::from(reply[1]),
            reply.len() - 2,
            "consistent outer length"
        );
        assert_eq!(reply[2..14], header);
        assert_eq!(
            reply[15..21],
            [0x02, 0x04, 0x12, 0x34, 0x56, 0x78],
            "same request-id"
        );
        assert_eq!(
            exchange(&broken, b"hello")[0],
            0xFF,
            "not SNMP: random bytes"
        );
        assert_eq!(broken.received(), 2);
    }
}
