//! Tests of configuration checking: every error names the key and the line.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::snmp::{AuthProtocol, PrivProtocol};

fn env(name: &str) -> Option<String> {
    match name {
        "KM_COMMUNITY" => Some("s3cret-community".into()),
        "KM_AUTH" => Some("authpass-from-env".into()),
        _ => None,
    }
}

fn parse_text(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/etc/telleverk/telleverk.toml"), text, &env)
}

/// The error of a config `serve` cannot run with: one that does not load,
/// or one whose secrets are not set.
fn error_of(text: &str) -> ConfigError {
    let every = [
        SecretUse::Devices,
        SecretUse::Api,
        SecretUse::Mail,
        SecretUse::Notify,
        SecretUse::Upstream,
    ];
    match parse_text(text).map(|c| c.require(&every)) {
        Ok(Ok(())) => panic!("expected an error for:\n{text}"),
        Ok(Err(e)) | Err(e) => e,
    }
}

#[test]
fn an_unknown_key_suggests_the_key_meant() {
    let e = error_of("[collector]\nintervall = \"5m\"\n");
    assert_eq!((e.key.as_str(), e.line), ("collector.intervall", Some(2)));
    assert!(e.message.ends_with("did you mean `interval`?"), "{e}");
    let e = error_of("[colector]\n");
    assert!(e.message.ends_with("did you mean `collector`?"), "{e}");
    let e = error_of("[collector]\nfrobnicate = 1\n");
    assert!(!e.message.contains("did you mean"), "{e}");
}

#[test]
fn a_secret_not_set_stops_only_the_commands_that_use_it() {
    let text = "[[device]]\naddress = \"10.0.0.1\"\ncommunity_env = \"NOPE\"\n\
                [[http.token]]\nname = \"a\"\nrole = \"viewer\"\ntoken_env = \"NOT_SET\"\n";
    let c = parse_text(text).expect("invoices and reconcile run without the secrets");
    assert!(c.require(&[]).is_ok());
    let e = c.require(&[SecretUse::Devices]).unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.line),
        ("device[0].community_env", Some(3))
    );
    assert!(e.message.contains("`NOPE` is not set"), "{e}");
    let e = c.require(&[SecretUse::Api]).unwrap_err();
    assert_eq!(e.key, "http.token[0].token_env");
    assert!(c.require(&[SecretUse::Mail]).is_ok());
    // The token whose variable is not set lets nobody in.
    assert_eq!(c.http.tokens[0].hash, [0; 32]);
}

#[test]
fn the_full_example_resolves() {
    let c = parse_text(
        r#"
[storage]
path = "data/telleverk.db"

[collector]
interval = "15m"
concurrency = 64
timeout = "1500ms"
retries = 2

[[device]]
address = "10.20.0.31"
version = "2c"
community = "public"
serial = "AA2M021115700"
location = "Oslo 3rd floor"
large_counts_double = true

[[device]]
address = "printer.example.com:1161"
[device.v3]
user = "telleverk"
auth_protocol = "sha256"
auth_password_env = "KM_AUTH"
privacy_protocol = "aes128"
privacy_password = "privpass-123"
context = "bizhub"
"#,
    )
    .unwrap();
    assert_eq!(
        c.storage.file().unwrap(),
        Path::new("/etc/telleverk/data/telleverk.db")
    );
    assert_eq!(c.collector.interval, Duration::from_secs(900));
    assert_eq!(c.collector.timeout, Duration::from_millis(1500));
    assert_eq!(c.collector.concurrency, 64);
    assert_eq!(c.collector.retries, 2);
    assert_eq!(c.devices.len(), 2);
    assert_eq!(c.devices[0].address, "10.20.0.31:161");
    assert_eq!(c.devices[0].version, Version::V2c);
    assert!(c.devices[0].large_counts_double);
    assert_eq!(c.devices[1].address, "printer.example.com:1161");
    assert_eq!(c.devices[1].version, Version::V3);
    let Credentials::V3(v3) = &c.devices[1].credentials else {
        panic!("expected v3")
    };
    assert_eq!(v3.auth.as_ref().unwrap().0, AuthProtocol::Sha256);
    assert_eq!(v3.auth.as_ref().unwrap().1.expose(), "authpass-from-env");
    assert_eq!(v3.privacy.as_ref().unwrap().0, PrivProtocol::Aes128);
    assert_eq!(v3.context, "bizhub");
}

#[test]
fn defaults_apply_and_no_devices_is_fine() {
    let c = parse_text("").unwrap();
    assert_eq!(
        c.storage.file().unwrap(),
        Path::new("/etc/telleverk/telleverk.db")
    );
    assert_eq!(c.collector.interval, Duration::from_secs(900));
    assert_eq!(c.collector.concurrency, 256);
    assert_eq!(c.collector.timeout, Duration::from_secs(2));
    assert_eq!(c.collector.retries, 1);
    assert!(c.devices.is_empty());
    assert!(c.profiles.get("konica-minolta-bizhub").is_some());
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let e = error_of("[collector]\ninterval = \"1m\"\nintervall = \"2m\"\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key, "collector.intervall");
    assert!(e.message.contains("intervall"), "{e}");
    let e = error_of("[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"x\"\nserail = \"A\"\n");
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key, "device[0].serail");
    assert!(e.message.contains("serail"), "{e}");
    // A value of the wrong kind names its key too.
    let e = error_of("[collector]\nretries = \"two\"\n");
    assert_eq!(
        (e.key.as_str(), e.line),
        ("collector.retries", Some(2)),
        "{e}"
    );
    assert!(e.message.contains("invalid type"), "{e}");
}

#[test]
fn bad_addresses_are_rejected() {
    for bad in [
        "10.0.0.300",
        "host name",
        "10.0.0.1:0",
        "10.0.0.1:99999",
        "fe80::1::2",
        "",
        "-x.example",
    ] {
        let text = format!("[[device]]\naddress = \"{bad}\"\ncommunity = \"public\"\n");
        let e = error_of(&text);
        assert_eq!(e.key, "device[0].address", "{bad}: {e}");
        assert_eq!(e.line, Some(2), "{bad}");
    }
    let ok = ["[::1]:1161", "::1", "localhost", "10.0.0.1:1161"];
    let want = ["[::1]:1161", "[::1]:161", "localhost:161", "10.0.0.1:1161"];
    for (a, w) in ok.iter().zip(want) {
        let c = parse_text(&format!(
            "[[device]]\naddress = \"{a}\"\ncommunity = \"public\"\n"
        ))
        .unwrap();
        assert_eq!(c.devices[0].address, w);
    }
}

#[test]
fn missing_secrets_are_errors_that_do_not_print_secrets() {
    let e = error_of("[[device]]\naddress = \"10.0.0.1\"\ncommunity_env = \"NOPE\"\n");
    assert_eq!(e.key, "device[0].community_env");
    assert!(e.message.contains("NOPE"));
    let e = error_of("[[device]]\naddress = \"10.0.0.1\"\n");
    assert_eq!(e.key, "device[0].community");
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\nauth_protocol = \"sha1\"\n",
    );
    assert_eq!(e.key, "device[0].v3.auth_password");
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\nauth_protocol = \"sha1\"\nauth_password = \"short\"\n",
    );
    assert!(e.message.contains("8 characters"));
    assert!(!e.to_string().contains("short"), "{e}");
    // A resolved secret never shows in Debug output.
    let c = parse_text("[[device]]\naddress = \"10.0.0.1\"\ncommunity_env = \"KM_COMMUNITY\"\n")
        .unwrap();
    assert!(!format!("{c:?}").contains("s3cret-community"));
    assert!(!c.devices[0].key.contains("s3cret"));
}

#[test]
fn community_and_v3_exclude_each_other() {
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"public\"\n[device.v3]\nuser = \"u\"\n",
    );
    assert_eq!(e.key, "device[0].community");
    assert_eq!(e.line, Some(3));
    let e = error_of("[[device]]\naddress = \"10.0.0.1\"\nversion = \"3\"\n");
    assert_eq!(e.key, "device[0].version");
    let e = error_of("[[device]]\naddress = \"10.0.0.1\"\nversion = \"2\"\ncommunity = \"p\"\n");
    assert_eq!(e.key, "device[0].version");
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\nprivacy_protocol = \"aes\"\nprivacy_password = \"12345678\"\n",
    );
    assert_eq!(e.key, "device[0].v3.privacy_protocol");
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\nauth_protocol = \"sha3\"\nauth_password = \"12345678\"\n",
    );
    assert_eq!(e.key, "device[0].v3.auth_protocol");
    assert_eq!(e.line, Some(5));
}

#[test]
fn large_counts_double_needs_a_serial_and_serials_must_agree() {
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"p\"\nlarge_counts_double = true\n",
    );
    assert_eq!(e.key, "device[0].large_counts_double");
    assert_eq!(e.line, Some(4));
    let e = error_of(
        "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"a\"\nserial = \"S1\"\nlarge_counts_double = true\n\
         [[device]]\naddress = \"10.0.0.2\"\ncommunity = \"a\"\nserial = \"S1\"\n",
    );
    assert_eq!(e.key, "device[1].large_counts_double");
    assert_eq!(e.line, Some(6));
}

#[test]
fn one_address_may_serve_several_entries_but_not_the_same_one_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("telleverk.toml");
    let text = "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"a\"\n\
         [[device]]\naddress = \"10.0.0.1\"\ncommunity = \"b\"\n\
         [[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\ncontext = \"c1\"\n\
         [[device]]\naddress = \"10.0.0.1\"\n[device.v3]\nuser = \"u\"\ncontext = \"c2\"\n";
    let c = parse(&file, text, &env).unwrap();
    let keys: std::collections::HashSet<_> = c.devices.iter().map(|d| d.key.clone()).collect();
    assert_eq!(keys.len(), 4);
    let dup = "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"a\"\n[[device]]\naddress = \"10.0.0.1:161\"\ncommunity = \"a\"\n";
    let e = parse(&file, dup, &env).unwrap_err();
    assert_eq!(e.key, "device[1]");
    assert!(e.message.contains("device[0]"));
}

#[test]
fn entry_keys_hold_nothing_a_word_list_recovers_the_community_from() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("telleverk.toml");
    let key_file = dir.path().join("telleverk.db.key");
    // Alone at its address, an entry's key is its address and version, and
    // no key file is made.
    let alone = parse(
        &file,
        "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"public\"\n",
        &env,
    )
    .unwrap();
    assert_eq!(alone.devices[0].key, "10.0.0.1:161 v2c");
    assert!(!key_file.exists());
    // Sharing it, the communities are told apart by a fingerprint keyed by
    // a file beside the database (0600), the same at every start.
    let shared = "[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"public\"\n\
         [[device]]\naddress = \"10.0.0.1\"\ncommunity = \"private\"\n";
    let first = parse(&file, shared, &env).unwrap();
    let again = parse(&file, shared, &env).unwrap();
    let keys = |c: &Config| c.devices.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), keys(&again));
    assert_ne!(first.devices[0].key, first.devices[1].key);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for d in &first.devices {
        assert!(
            d.key.starts_with("10.0.0.1:161 v2c community#k"),
            "{}",
            d.key
        );
        let legacy = d.legacy_key().unwrap();
        let unkeyed = legacy.rsplit_once('#').unwrap().1;
        assert!(
            !d.key.contains(unkeyed),
            "{} holds the unkeyed fingerprint",
            d.key
        );
    }
    // Another key file (another installation) gives other fingerprints.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = parse(&other.path().join("telleverk.toml"), shared, &env).unwrap();
    assert_ne!(keys(&elsewhere), keys(&first));
}

#[test]
fn collector_values_are_checked() {
    let e = error_of("[collector]\ninterval = \"soon\"\n");
    assert_eq!(e.key, "collector.interval");
    let e = error_of("[collector]\nconcurrency = 0\n");
    assert_eq!(e.key, "collector.concurrency");
    let e = error_of("[collector]\ntimeout = \"0s\"\n");
    assert_eq!(e.key, "collector.timeout");
    let e = error_of("[collector]\nretries = 11\n");
    assert_eq!(e.key, "collector.retries");
    let e = error_of("[collector]\nretries = \"one\"\n");
    assert_eq!(e.line, Some(2));
}

#[test]
fn unknown_profiles_are_named() {
    let e =
        error_of("[[device]]\naddress = \"10.0.0.1\"\ncommunity = \"a\"\nprofile = \"ricoh\"\n");
    assert_eq!(e.key, "device[0].profile");
    assert!(e.message.contains("konica-minolta-bizhub"));
}

const HASH: &str = "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

#[test]
fn http_tokens_and_alerts_resolve() {
    let text = format!(
        "[http]\nlisten = \"0.0.0.0:9090\"\nmax_connections = 64\nheader_read_timeout = \"5s\"\n\
         request_timeout = \"2m\"\nmax_body_bytes = 65536\n\
         [[http.token]]\nname = \"facilities\"\nrole = \"viewer\"\nhash = \"{HASH}\"\n\
         [[http.token]]\nname = \"ops\"\nrole = \"admin\"\ntoken_env = \"OPS_TOKEN\"\n\
         [alerts]\nsupply_low_pct = 15\n"
    );
    let env = |name: &str| (name == "OPS_TOKEN").then(|| "a-long-enough-token-from-env".to_owned());
    let c = parse(Path::new("/etc/telleverk/telleverk.toml"), &text, &env).unwrap();
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:9090");
    assert_eq!(
        c.http.limits,
        Limits {
            max_connections: 64,
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
            max_body_bytes: 65536,
        }
    );
    // sha256("password"), as the hash says.
    assert_eq!(c.http.tokens[0].hash, token_hash("password"));
    assert_eq!(
        (c.http.tokens[0].role, c.http.tokens[1].role),
        (Role::Viewer, Role::Admin)
    );
    assert_eq!(
        c.http.tokens[1].hash,
        token_hash("a-long-enough-token-from-env")
    );
    assert_eq!(
        (
            c.alerts.supply_low_pct,
            c.alerts.reading_due_days,
            c.alerts.notice_warning_days
        ),
        (15, 3, 90)
    );
    assert!(
        !format!("{c:?}").contains("5e8848"),
        "Debug never shows a hash"
    );
    let d = parse_text("").unwrap();
    assert_eq!(d.http.listen.to_string(), "127.0.0.1:8080");
    assert!(d.http.tokens.is_empty());
    assert_eq!(
        d.http.limits,
        Limits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 1 << 20,
        },
        "a config without the limits means what it meant before they existed, bounded"
    );
}

#[test]
fn http_and_alert_mistakes_are_named() {
    let token = |body: &str| format!("[[http.token]]\n{body}\n");
    let cases = [
        (
            "[http]\nlisten = \"localhost\"\n".to_owned(),
            "http.listen",
            "not an address",
        ),
        (
            "[http]\nmax_connections = 0\n".to_owned(),
            "http.max_connections",
            "between 1 and 65536",
        ),
        (
            "[http]\nheader_read_timeout = \"0s\"\n".to_owned(),
            "http.header_read_timeout",
            "greater than zero",
        ),
        (
            "[http]\nrequest_timeout = \"2h\"\n".to_owned(),
            "http.request_timeout",
            "outside 100ms to 1h",
        ),
        (
            "[http]\nmax_body_bytes = 10\n".to_owned(),
            "http.max_body_bytes",
            "between 1024",
        ),
        (
            token(&format!("name = \"a\"\nrole = \"root\"\nhash = \"{HASH}\"")),
            "http.token[0].role",
            "`root` is not a role",
        ),
        (
            token("name = \"a\"\nrole = \"viewer\"\nhash = \"abc\""),
            "http.token[0].hash",
            "SHA-256",
        ),
        (
            token("name = \"a\"\nrole = \"viewer\""),
            "http.token[0].hash",
            "is required",
        ),
        (
            token("role = \"viewer\"\nhash = \"abc\""),
            "http.token[0].name",
            "is required",
        ),
        (
            token("name = \"a\"\nrole = \"viewer\"\ntoken_env = \"NOT_SET\""),
            "http.token[0].token_env",
            "`NOT_SET` is not set",
        ),
        (
            token("name = \"a\"\nrole = \"viewer\"\ntoken_env = \"KM_COMMUNITY\""),
            "http.token[0].token_env",
            "shorter than 20",
        ),
        (
            format!(
                "{}{}",
                token(&format!(
                    "name = \"a\"\nrole = \"viewer\"\nhash = \"{HASH}\""
                )),
                token(&format!(
                    "name = \"a\"\nrole = \"admin\"\nhash = \"{}\"",
                    HASH.replace("5e88", "5e89")
                ))
            ),
            "http.token[1].name",
            "also the name",
        ),
        (
            format!(
                "{}{}",
                token(&format!(
                    "name = \"a\"\nrole = \"viewer\"\nhash = \"{HASH}\""
                )),
                token(&format!(
                    "name = \"b\"\nrole = \"admin\"\nhash = \"{HASH}\""
                ))
            ),
            "http.token[1]",
            "the same token",
        ),
        (
            "[alerts]\nsupply_low_pct = 101\n".to_owned(),
            "alerts.supply_low_pct",
            "between 0 and 100",
        ),
        (
            "[alerts]\nsoon = 1\n".to_owned(),
            "alerts.soon",
            "unknown field",
        ),
    ];
    for (text, key, message) in cases {
        let e = error_of(&text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.message.contains(message), "{text}: {e}");
        assert!(e.line.is_some(), "{text}: {e}");
    }
}

const SMTP: &str = "[smtp]\nhost = \"smtp.example.com\"\nusername = \"telleverk\"\n\
    password_env = \"KM_AUTH\"\nfrom = \"telleverk@example.com\"\n\n";

#[test]
fn smtp_and_reports_resolve() {
    let text = format!(
        "{SMTP}[[report]]\nname = \"monthly-counters\"\nschedule = \"0 6 1 * *\"\n\
         kind = \"counters\"\nformat = \"xlsx\"\ndirectory = \"reports\"\n\
         email_to = [\"facilities@example.com\"]\n\n\
         [[report]]\nname = \"vendor\"\nschedule = \"0 5 * * 1-5\"\nkind = \"vendor-billing\"\n\
         csv_delimiter = \",\"\ndirectory = \"/srv/export\"\n"
    );
    let c = parse_text(&text).unwrap();
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::StartTls), "defaults");
    let (user, password) = smtp.login.as_ref().unwrap();
    assert_eq!(
        (user.as_str(), password.expose()),
        ("telleverk", "authpass-from-env")
    );
    assert!(
        !format!("{c:?}").contains("authpass-from-env"),
        "the password never prints"
    );
    let monthly = c.report("monthly-counters").unwrap();
    assert_eq!(monthly.directory, Path::new("/etc/telleverk/reports"));
    assert_eq!(monthly.format, crate::report::schedule::Format::Xlsx);
    assert_eq!(monthly.email_to, ["facilities@example.com"]);
    let vendor = c.report("vendor").unwrap();
    assert_eq!(
        vendor.format,
        crate::report::schedule::Format::Csv,
        "the default"
    );
    assert_eq!(vendor.csv_style, crate::report::CsvStyle::Comma);
    assert_eq!(vendor.directory, Path::new("/srv/export"));
    assert!(vendor.email_to.is_empty());
    let tls = parse_text(&SMTP.replace("[smtp]\n", "[smtp]\ntls = \"tls\"\n")).unwrap();
    assert_eq!(tls.smtp.unwrap().port, 465);
}

#[test]
fn smtp_and_report_mistakes_are_named() {
    let report = |body: &str| {
        format!(
            "{SMTP}[[report]]\nname = \"r\"\nschedule = \"0 6 1 * *\"\nkind = \"counters\"\n{body}"
        )
    };
    let cases = [
        (
            "[smtp]\nfrom = \"a@example.com\"\n".to_owned(),
            "smtp.host",
            "is required",
        ),
        (
            SMTP.replace("telleverk@example.com", "not an address"),
            "smtp.from",
            "not a mail address",
        ),
        (
            SMTP.replace("KM_AUTH", "NO_SUCH_VAR"),
            "smtp.password_env",
            "`NO_SUCH_VAR` is not set",
        ),
        (
            SMTP.replace("[smtp]\n", "[smtp]\ntls = \"ssl\"\n"),
            "smtp.tls",
            "`ssl` is not",
        ),
        (
            SMTP.replace("[smtp]\n", "[smtp]\nport = 70000\n"),
            "smtp.port",
            "between 1 and 65535",
        ),
        (
            report("format = \"pdf\"\n"),
            "report[0].format",
            "use csv, xlsx, json",
        ),
        (
            report("").replace("counters", "vendor-billing") + "format = \"xlsx\"\n",
            "report[0].format",
            "use csv, json",
        ),
        (
            report("").replace("0 6 1 * *", "0 6 1 *"),
            "report[0].schedule",
            "give five",
        ),
        (
            report("").replace("0 6 1 * *", "0 25 1 * *"),
            "report[0].schedule",
            "not a cron",
        ),
        (
            report("").replace("\"counters\"", "\"invoices\""),
            "report[0].kind",
            "`invoices`",
        ),
        (
            report("").replace("name = \"r\"", "name = \"a/b\""),
            "report[0].name",
            "cannot name",
        ),
        (
            report("csv_delimiter = \"\\t\"\n"),
            "report[0].csv_delimiter",
            "is not \";\"",
        ),
        (
            report("email_to = [\"nobody\"]\n"),
            "report[0].email_to",
            "`nobody`",
        ),
        (
            report("email_to = [\"a@example.com\"]\n").replace(SMTP, ""),
            "report[0].email_to",
            "needs an [smtp] table",
        ),
        (
            report("")
                + "[[report]]\nname = \"r\"\nschedule = \"0 6 * * *\"\nkind = \"counters\"\n",
            "report[1].name",
            "also the name of report[0]",
        ),
        (
            "[[report]]\nname = \"r\"\nkind = \"counters\"\n".to_owned(),
            "report[0].schedule",
            "is required",
        ),
    ];
    for (text, key, message) in cases {
        let e = error_of(&text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.message.contains(message), "{text}: {e}");
        assert!(e.line.is_some(), "{text}: {e}");
    }
}

#[test]
fn snmp_values_have_bounds_and_say_why() {
    let device = |extra: &str| format!("[[device]]\naddress = \"10.0.0.1\"\n{extra}");
    let e = error_of(&device("community = \"\"\n"));
    assert_eq!(e.key, "device[0].community");
    assert!(
        e.message
            .contains("the community is 0 octets: it must be 1 to 255 octets"),
        "{e}"
    );
    let e = error_of(&device(&format!(
        "community = \"{}\"\n",
        "c".repeat(100_000)
    )));
    assert_eq!(e.key, "device[0].community");
    assert!(e.message.contains("the community is 100000 octets"), "{e}");
    assert_eq!(e.line, Some(3));
    let v3 = |user: &str, context: &str| {
        device(&format!(
            "version = \"3\"\n[device.v3]\nuser = \"{user}\"\ncontext = \"{context}\"\n"
        ))
    };
    assert!(parse_text(&v3(&"u".repeat(32), &"c".repeat(32))).is_ok());
    let e = error_of(&v3("u", &"c".repeat(33)));
    assert_eq!(e.key, "device[0].v3.context");
    assert!(
        e.message
            .contains("is 33 octets: an SNMPv3 context is an SnmpAdminString of 0 to 32 octets"),
        "{e}"
    );
    let e = error_of(&v3(&"ü".repeat(17), ""));
    assert_eq!(e.key, "device[0].v3.user");
    assert!(e.message.contains("is 34 octets"), "{e}");
    let e = error_of("[collector]\ntimeout = \"100000000y\"\n");
    assert_eq!(e.key, "collector.timeout");
    assert!(e.message.contains("is outside 10ms to 1m"), "{e}");
    let e = error_of("[collector]\ninterval = \"1ms\"\n");
    assert_eq!(e.key, "collector.interval");
    assert!(e.message.contains("more often than every second"), "{e}");
}

#[test]
fn discovery_for_serve_resolves_and_its_mistakes_are_named() {
    let c = parse_text(
        "[discovery]\ncommunities = [\"public\"]\nranges = [\"10.20.0.0/22\", \"10.20.9.5\"]\n\
         port = 1161\nrediscover = \"12h\"\nauto_add = true\n",
    )
    .unwrap();
    assert_eq!(c.discovery.ranges.len(), 2);
    assert_eq!(c.discovery.port, 1161);
    assert_eq!(c.discovery.rediscover, Duration::from_secs(12 * 3_600));
    assert!(c.discovery.auto_add);
    assert!(c.discovery.credential("communities[0]").is_some());
    // Ranges alone: a daily scan, nothing added, port 161.
    let c =
        parse_text("[discovery]\ncommunities = [\"public\"]\nranges = [\"10.20.0.1\"]\n").unwrap();
    assert_eq!(c.discovery.rediscover, DEFAULT_REDISCOVER);
    assert!(!c.discovery.auto_add);
    assert_eq!(c.discovery.port, 161);

    let e = error_of("[discovery]\ncommunities = [\"public\"]\nranges = [\"10.20.0/22\"]\n");
    assert_eq!((e.key.as_str(), e.line), ("discovery.ranges[0]", Some(3)));
    assert!(
        e.message.contains("`10.20.0/22` is not an address range"),
        "{e}"
    );
    let e = error_of("[discovery]\ncommunities = [\"public\"]\nranges = [\"10.0.0.0/15\"]\n");
    assert_eq!(e.key, "discovery.ranges");
    assert!(e.message.contains("more than a /16"), "{e}");
    let e = error_of("[discovery]\ncommunities = [\"public\"]\nrediscover = \"24h\"\n");
    assert_eq!(e.key, "discovery.rediscover");
    assert!(e.message.contains("needs `ranges`"), "{e}");
    let e = error_of("[discovery]\ncommunities = [\"public\"]\nauto_add = true\n");
    assert_eq!(e.key, "discovery.auto_add");
    let e = error_of("[discovery]\nranges = [\"10.20.0.1\"]\n");
    assert!(e.message.contains("lists no credential"), "{e}");
    let e = error_of(
        "[discovery]\ncommunities = [\"public\"]\nranges = [\"10.20.0.1\"]\nrediscover = \"0s\"\n",
    );
    assert_eq!(e.key, "discovery.rediscover");
    let e =
        error_of("[discovery]\ncommunities = [\"public\"]\nranges = [\"10.20.0.1\"]\nport = 0\n");
    assert_eq!(e.key, "discovery.port");
    // A credential from a variable that is not set stops `serve` (and
    // `discover`), with the variable named.
    let c = parse_text("[discovery]\ncommunity_env = [\"NOT_SET\"]\nranges = [\"10.20.0.1\"]\n")
        .unwrap();
    let e = c.require(&[SecretUse::Discovery]).unwrap_err();
    assert!(e.message.contains("`NOT_SET` is not set"), "{e}");
}

#[test]
fn notify_reads_its_destinations_and_defaults_to_every_kind() {
    let text = format!(
        "{SMTP}[[notify]]\nemail_to = [\"drift@example.com\"]\n\
         [[notify]]\nkinds = [\"supply_empty\", \"device_down\", \"supply_empty\"]\n\
         webhook_url = \"https://hooks.example.com/telleverk\"\nwebhook_secret_env = \"KM_AUTH\"\n\
         digest = \"0 7 * * 1-5\"\n"
    );
    let c = parse_text(&text).unwrap();
    assert_eq!(c.notify.len(), 2);
    assert_eq!(c.notify[0].kinds, crate::alerts::Kind::ALL.to_vec());
    assert_eq!(
        c.notify[0].mail_destination().as_deref(),
        Some("mailto:drift@example.com")
    );
    assert!(c.notify[0].webhook.is_none() && c.notify[0].digest.is_none());
    let n = &c.notify[1];
    use crate::alerts::Kind;
    assert_eq!(n.kinds, [Kind::SupplyEmpty, Kind::DeviceDown]);
    assert!(n.wants(Kind::DeviceDown) && !n.wants(Kind::Stale));
    let hook = n.webhook.as_ref().unwrap();
    assert_eq!(hook.url, "https://hooks.example.com/telleverk");
    assert_eq!(hook.secret.expose(), "authpass-from-env");
    assert_eq!(n.digest.as_ref().unwrap().text(), "0 7 * * 1-5");
    assert!(c.require(&[SecretUse::Notify]).is_ok());
}

#[test]
fn notify_errors_name_the_key_and_the_problem() {
    let hook = "webhook_url = \"https://h.example.com/x\"\nwebhook_secret_env = \"KM_AUTH\"\n";
    let cases: [(String, &str, Option<usize>, &[&str]); 8] = [
        (
            format!("[[notify]]\nkinds = [\"supply_emtpy\"]\n{hook}"),
            "notify[0].kinds",
            Some(2),
            &["`supply_emtpy` is not an alert kind", "did you mean `supply_empty`?"],
        ),
        (
            format!("[[notify]]\nkinds = []\n{hook}"),
            "notify[0].kinds",
            Some(2),
            &["names no kind"],
        ),
        (
            "[[notify]]\nwebhook_url = \"ftp://h.example.com/x\"\nwebhook_secret_env = \"KM_AUTH\"\n".into(),
            "notify[0].webhook_url",
            Some(2),
            &["not an http or https URL", "`ftp`"],
        ),
        (
            "[[notify]]\nwebhook_url = \"hooks here\"\nwebhook_secret_env = \"KM_AUTH\"\n".into(),
            "notify[0].webhook_url",
            Some(2),
            &["`hooks here` is not a URL"],
        ),
        (
            "[[notify]]\nwebhook_url = \"https://h.example.com/x\"\nwebhook_secret_env = \"NO_SUCH_VAR\"\n".into(),
            "notify[0].webhook_secret_env",
            Some(3),
            &["environment variable `NO_SUCH_VAR` is not set"],
        ),
        (
            "[[notify]]\nwebhook_url = \"https://h.example.com/x\"\n".into(),
            "notify[0].webhook_secret_env",
            Some(2),
            &["is required with `webhook_url`"],
        ),
        (
            format!("[[notify]]\n{hook}digest = \"every morning\"\n"),
            "notify[0].digest",
            Some(4),
            &["`every morning` has 2 fields"],
        ),
        (
            "[[notify]]\nemail_to = [\"a@example.com\"]\n".into(),
            "notify[0].email_to",
            Some(2),
            &["needs an [smtp] table"],
        ),
    ];
    for (text, key, line, says) in cases {
        let e = error_of(&text);
        assert_eq!((e.key.as_str(), e.line), (key, line), "{e}");
        for s in says {
            assert!(e.message.contains(s), "{e} lacks {s}");
        }
    }
    let e = error_of(&format!("{SMTP}[[notify]]\nkinds = [\"stale\"]\n"));
    assert_eq!(e.key, "notify[0]");
    assert!(e.message.contains("tells nobody"), "{e}");
    let e = error_of(
        "[[notify]]\nwebhook_url = \"https://h.example.com/x\"\nwebhook_secret_env = \"KM_AUTH\"\ndigest = \"0 25 * * *\"\n",
    );
    assert_eq!(e.key, "notify[0].digest");
    assert!(e.message.contains("is not a cron schedule"), "{e}");
    let e = error_of(&format!(
        "[[notify]]\n{hook}\n[[notify]]\nkinds = [\"stale\"]\n\
         webhook_url = \"https://h.example.com/x\"\nwebhook_secret_env = \"KM_COMMUNITY\"\n"
    ));
    assert_eq!(
        (e.key.as_str(), e.line),
        ("notify[1].webhook_secret_env", Some(8))
    );
    assert!(e.message.contains("another secret"), "{e}");
    // One destination, one entry of each way of telling; a digest beside
    // messages for each alert is fine.
    let e = error_of(&format!(
        "{SMTP}[[notify]]\nemail_to = [\"A@example.com\", \"b@example.com\"]\n\
         [[notify]]\nkinds = [\"stale\"]\nemail_to = [\"b@example.com\", \"Anne <a@example.com>\"]\n"
    ));
    assert_eq!(e.key, "notify[1]");
    assert!(
        e.message
            .contains("tells mailto:a@example.com,b@example.com each alert as notify[0]"),
        "{e}"
    );
    let c = parse_text(&format!(
        "{SMTP}[[notify]]\nemail_to = [\"a@example.com\"]\n\
         [[notify]]\nemail_to = [\"a@example.com\"]\ndigest = \"0 7 * * 1-5\"\n"
    ))
    .unwrap();
    assert_eq!(c.notify.len(), 2);
}

#[test]
fn a_webhook_is_shown_without_its_path() {
    assert_eq!(
        shown_destination("https://hooks.example.com/services/T0/B0/SECRET?x=1"),
        "https://hooks.example.com/…"
    );
    assert_eq!(
        shown_destination("http://127.0.0.1:8080/"),
        "http://127.0.0.1:8080"
    );
    assert_eq!(
        shown_destination("mailto:a@example.com"),
        "mailto:a@example.com"
    );
    assert!(!shown_destination("https://u:pw@h.example.com/x").contains("pw"));
}

#[test]
fn storage_url_is_a_postgresql_database_with_its_password_from_the_environment() {
    let text = "[storage]\nurl = \"postgresql://tv@db.example:5432/telleverk\"\npassword_env = \"TV_DB\"\nsslmode = \"disable\"\n";
    let env = |name: &str| (name == "TV_DB").then(|| "s3cret".to_owned());
    let c = parse(Path::new("/etc/telleverk/telleverk.toml"), text, &env).unwrap();
    assert_eq!(c.storage.file(), None);
    assert_eq!(
        c.storage.shown(),
        "postgresql://tv@db.example:5432/telleverk"
    );
    let crate::database::Database::Server(server) = &c.storage else {
        panic!("a server")
    };
    assert_eq!(server.password().map(|p| p.expose()), Some("s3cret"));
    assert_eq!(server.sslmode(), crate::database::SslMode::Disable);
    // Each mistake names its key and line.
    let cases = [
        (
            "url = \"mysql://tv@db/telleverk\"\n",
            "storage.url",
            "is not a PostgreSQL URL",
        ),
        (
            "url = \"postgresql://tv:pw@db/telleverk\"\n",
            "storage.url",
            "has a password in it",
        ),
        (
            "url = \"postgresql://tv@db/t\"\npassword_env = \"NOPE\"\n",
            "storage.password_env",
            "`NOPE` is not set",
        ),
        (
            "url = \"postgresql://tv@db/t\"\nsslmode = \"always\"\n",
            "storage.sslmode",
            "not an sslmode",
        ),
        (
            "url = \"postgresql://tv@db/t\"\nsslmode = \"require\"\nsslrootcert = \"ca.pem\"\n",
            "storage.sslrootcert",
            "only sslmode = \"verify-full\" does",
        ),
        (
            "url = \"postgresql://tv@db/t\"\nsslmode = \"verify-full\"\nsslrootcert = \"no-such-ca.pem\"\n",
            "storage.sslrootcert",
            "/etc/telleverk/no-such-ca.pem is not a file",
        ),
        (
            "url = \"postgresql://tv@db/t?sslmode=require\"\n",
            "storage.url",
            "sets `sslmode` in the URL: give it as `sslmode` in [storage]",
        ),
        (
            "path = \"x.db\"\nurl = \"postgresql://tv@db/t\"\n",
            "storage.url",
            "not both",
        ),
        (
            "password_env = \"TV_DB\"\n",
            "storage.password_env",
            "give `url` too",
        ),
    ];
    for (body, key, message) in cases {
        let e = parse(
            Path::new("/etc/telleverk/telleverk.toml"),
            &format!("[storage]\n{body}"),
            &env,
        )
        .unwrap_err();
        assert_eq!(e.key, key, "{body}");
        assert!(e.message.contains(message), "{body}: {}", e.message);
        assert!(e.line.is_some(), "{body}");
        assert!(!e.to_string().contains("pw@"), "{e}");
    }
}

#[test]
fn storage_verify_full_takes_its_root_certificate_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "a PEM file").unwrap();
    let text = "[storage]\nurl = \"postgresql://tv@db.example/telleverk\"\nsslmode = \"verify-full\"\nsslrootcert = \"ca.pem\"\n";
    let c = parse(&dir.path().join("telleverk.toml"), text, &|_| None).unwrap();
    let crate::database::Database::Server(server) = &c.storage else {
        panic!("a server")
    };
    assert_eq!(server.sslmode(), crate::database::SslMode::VerifyFull);
    assert_eq!(
        server.root_cert(),
        Some(dir.path().join("ca.pem").as_path())
    );
}

#[test]
fn a_site_forwards_to_its_upstream_with_a_collector_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("central-ca.pem"), "not read here").unwrap();
    let text = "[site]\nname = \"bergen\"\n[upstream]\nurl = \"https://central.example:8443/\"\n\
                token_env = \"UP\"\nca_file = \"central-ca.pem\"\n";
    let env = |name: &str| (name == "UP").then(|| " tlv_site_token ".to_owned());
    let c = parse(&dir.path().join("telleverk.toml"), text, &env).unwrap();
    assert_eq!(c.site.as_deref(), Some("bergen"));
    let up = c.upstream.unwrap();
    assert_eq!(up.url, "https://central.example:8443");
    assert_eq!(up.token.expose(), "tlv_site_token");
    assert_eq!(up.ca_file, Some(dir.path().join("central-ca.pem")));

    let site = "[site]\nname = \"bergen\"\n";
    let cases = [
        (
            "[site]\nname = \"Bergen\"\n",
            "site.name",
            "is not a site name",
        ),
        (
            "[upstream]\nurl = \"http://c:8080\"\ntoken_env = \"X\"\n",
            "site.name",
            "is required with [upstream]",
        ),
        (
            &format!("{site}[upstream]\nurl = \"ftp://c\"\ntoken_env = \"X\"\n"),
            "upstream.url",
            "is not an http:// or https:// URL",
        ),
        (
            &format!("{site}[upstream]\nurl = \"https://u:p@c\"\ntoken_env = \"X\"\n"),
            "upstream.url",
            "holds credentials",
        ),
        (
            &format!("{site}[upstream]\nurl = \"central:8080\"\ntoken_env = \"X\"\n"),
            "upstream.url",
            "is not an http",
        ),
        (
            &format!(
                "{site}[upstream]\nurl = \"http://c:8080\"\ntoken_env = \"X\"\nca_file = \"ca.pem\"\n"
            ),
            "upstream.ca_file",
            "only an https:// url has",
        ),
        (
            &format!(
                "{site}[upstream]\nurl = \"https://c:8080\"\ntoken_env = \"X\"\nca_file = \"missing.pem\"\n"
            ),
            "upstream.ca_file",
            "is not a file",
        ),
        (
            &format!("{site}[upstream]\nurl = \"https://c:8080\"\ntoken_env = \"NOT_SET\"\n"),
            "upstream.token_env",
            "`NOT_SET` is not set",
        ),
        (
            "[[http.token]]\nname = \"b\"\nrole = \"collector\"\nhash = \"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"\n",
            "http.token[0].site",
            "is required for a collector",
        ),
        (
            "[[http.token]]\nname = \"b\"\nrole = \"viewer\"\nsite = \"bergen\"\nhash = \"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"\n",
            "http.token[0].site",
            "a viewer token reads every site",
        ),
        (
            "[[http.token]]\nname = \"b\"\nrole = \"collector\"\nsite = \"a b\"\nhash = \"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"\n",
            "http.token[0].site",
            "is not a site name",
        ),
    ];
    for (text, key, said) in cases {
        let e = error_of(text);
        assert_eq!(e.key, key, "{text}: {e}");
        assert!(e.message.contains(said), "{text}: {e}");
    }
    let collector = parse_text(
        "[[http.token]]\nname = \"b\"\nrole = \"collector\"\nsite = \"bergen\"\nhash = \"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"\n",
    )
    .unwrap();
    assert_eq!(collector.http.tokens[0].role, Role::Collector);
    assert_eq!(collector.http.tokens[0].site.as_deref(), Some("bergen"));
}
