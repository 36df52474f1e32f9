//! Tests of profile loading and evaluation. Expected values are written by hand.

use std::collections::HashMap;

use super::*;
use crate::meters::{DeviceColour, Meter, Parts, ValueKind};

const K: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2";

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn int(v: i64) -> Scalar {
    Scalar::Int(v, crate::oid::Syntax::Integer)
}

fn built_in() -> Profiles {
    load_profiles(None).unwrap()
}

#[test]
fn longest_prefix_wins() {
    let p = built_in();
    assert_eq!(
        p.choose(&oid("1.3.6.1.4.1.18334.1.2.1.2.1.143.1.3"))
            .unwrap()
            .id,
        "konica-minolta-bizhub"
    );
    assert_eq!(
        p.choose(&oid("1.3.6.1.4.1.11.2.3.9.1")).unwrap().id,
        "printer-mib"
    );
    assert!(p.choose(&oid("1.3.6.1.2.1.99")).is_none());
}

#[test]
fn bizhub_counters_evaluate_as_domain_says() {
    let p = built_in();
    let km = p.get("konica-minolta-bizhub").unwrap();
    let mut v: HashMap<Oid, Scalar> = HashMap::new();
    let cell = |col: u32, colour: u32, func: u32| oid(&format!("{K}.2.1.{col}.{colour}.{func}"));
    v.insert(
        oid("1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0"),
        Scalar::Text(b"KONICA MINOLTA bizhub C300i".to_vec()),
    );
    v.insert(
        oid("1.3.6.1.2.1.43.5.1.1.17.1"),
        Scalar::Text(b"AA2M021115700\0".to_vec()),
    );
    v.insert(oid(&format!("{K}.1.1.0")), int(10_000));
    v.insert(cell(5, 1, 1), int(1000)); // bw copy
    v.insert(cell(5, 1, 2), int(5000)); // bw print
    v.insert(cell(5, 2, 1), int(300)); // full colour copy
    v.insert(cell(5, 3, 1), int(20)); // single colour copy
    v.insert(cell(5, 4, 1), int(-1)); // no two-colour copy
    v.insert(cell(5, 2, 2), int(3500)); // full colour print
    v.insert(cell(5, 3, 2), int(-1));
    v.insert(cell(5, 4, 2), int(-1));
    v.insert(cell(7, 1, 1), int(40));
    v.insert(cell(7, 1, 2), int(60));
    v.insert(cell(7, 2, 2), int(7));
    v.insert(oid("1.3.6.1.2.1.25.3.5.1.2.1"), Scalar::Text(vec![0x01]));
    let ev = km.evaluate(&v);
    assert_eq!(ev.model.as_deref(), Some("bizhub C300i"));
    assert_eq!(ev.serial.as_deref(), Some("AA2M021115700"));
    // The profile gives the device's own values; the totals it lacks are
    // derived as for every reading (meters::derive).
    let mut m = ev.meters.clone();
    assert_eq!(m.value(Meter::BwTotal), None);
    m.derive_totals(DeviceColour::Unknown, Parts::Present);
    assert_eq!(m.value(Meter::Total), Some(10_000));
    assert_eq!(m.value(Meter::BwCopy), Some(1000));
    assert_eq!(m.value(Meter::ColourCopy), Some(320)); // 300 + 20, two-colour absent
    assert_eq!(m.value(Meter::ColourPrint), Some(3500));
    assert_eq!(m.value(Meter::SingleColourCopy), Some(20));
    assert_eq!(m.value(Meter::TwoColourCopy), None);
    assert_eq!(m.value(Meter::BwLarge), Some(100)); // 40 + 60
    assert_eq!(m.value(Meter::ColourLarge), Some(7));
    assert_eq!(m.value(Meter::BwTotal), Some(6000)); // 1000 + 5000, derived
    assert_eq!(m.value(Meter::ColourTotal), Some(3820)); // 320 + 3500
    assert_eq!(m.get(Meter::BwTotal).unwrap().kind, ValueKind::Derived);
    assert_eq!(m.value(Meter::Duplex), None);
    assert_eq!(ev.error_octets, Some(vec![0x01]));
    assert!(ev.problems.is_empty(), "{:?}", ev.problems);
}

#[test]
fn wrong_types_and_unlisted_negatives_are_problems_not_values() {
    let p = built_in();
    let km = p.get("konica-minolta-bizhub").unwrap();
    let mut v = HashMap::new();
    v.insert(oid(&format!("{K}.1.1.0")), Scalar::Text(b"12".to_vec()));
    v.insert(oid(&format!("{K}.2.1.5.1.1")), int(-7));
    let ev = km.evaluate(&v);
    assert_eq!(ev.meters.value(Meter::Total), None);
    assert_eq!(ev.meters.value(Meter::BwCopy), None);
    assert_eq!(ev.problems.len(), 2, "{:?}", ev.problems);
    assert!(ev.problems[0].contains("OCTET STRING"));
}

#[test]
fn a_directory_profile_extends_and_errors_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acme.toml"),
        "id = \"acme\"\nextends = \"printer-mib\"\nsys_object_id_prefix = \"1.3.6.1.4.1.99999.\"\n\
         [identity]\nserial = \"1.3.6.1.4.1.99999.3.0\"\n[meters]\ntotal = \"1.3.6.1.4.1.99999.2.1.0\"\n\
         colour_total = { first_of = [\"1.3.6.1.4.1.99999.2.9.0\", \"1.3.6.1.4.1.99999.2.2.0\"] }\n",
    )
    .unwrap();
    let p = load_profiles(Some(dir.path())).unwrap();
    let acme = p.choose(&oid("1.3.6.1.4.1.99999.1.7")).unwrap();
    assert_eq!(acme.id, "acme");
    // Inherited from printer-mib:
    assert!(acme.supplies.is_some());
    assert_eq!(acme.device_status, Some(oid("1.3.6.1.2.1.25.3.2.1.5.1")));
    assert_eq!(acme.serial, vec![oid("1.3.6.1.4.1.99999.3.0")]);

    std::fs::write(
        dir.path().join("bad.toml"),
        "id = \"bad\"\n[meters]\nbw_totl = \"1.3.6.1\"\n",
    )
    .unwrap();
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert!(e.file.ends_with("bad.toml"));
    assert_eq!(e.key, "meters.bw_totl");

    std::fs::write(
        dir.path().join("bad.toml"),
        "id = \"bad\"\n[meters]\ntotal = { sum = [\"1.3.x\"] }\n",
    )
    .unwrap();
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert_eq!(e.key, "meters.total.sum[0]");

    std::fs::write(
        dir.path().join("bad.toml"),
        "id = \"bad\"\nextends = \"nope\"\n",
    )
    .unwrap();
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert_eq!(e.key, "extends");

    std::fs::write(
        dir.path().join("bad.toml"),
        "id = \"bad\"\nsys_object_id_prefx = \"1.3\"\n",
    )
    .unwrap();
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert!(e.message.contains("sys_object_id_prefx"), "{e}");
    assert_eq!(e.key, "line 2");
}

#[test]
fn extends_cycles_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "id = \"a\"\nextends = \"b\"\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "id = \"b\"\nextends = \"a\"\n").unwrap();
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert_eq!(e.key, "extends");
    assert!(e.message.contains("circle"));
}

#[test]
fn scalar_oids_have_no_duplicates() {
    let p = built_in();
    let oids = p.get("konica-minolta-bizhub").unwrap().scalar_oids();
    let unique: std::collections::HashSet<_> = oids.iter().collect();
    assert_eq!(unique.len(), oids.len());
    // sysDescr, sysObjectID, 2 model, serial, 3 status, 3 general + 8 page
    // cells + 8 large cells, and the life count the total falls back to = 28.
    assert_eq!(oids.len(), 28);
}

#[test]
fn a_model_name_with_a_multibyte_character_across_the_prefix_is_kept_whole() {
    let p = built_in();
    let km = p.get("konica-minolta-bizhub").unwrap();
    let model = oid("1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0");
    // "KONICA MINOLTA" is 14 bytes; the prefix is 15: byte 15 falls inside "É".
    for (text, expected) in [
        ("KONICA MINOLTAÉ bizhub", "KONICA MINOLTAÉ bizhub"),
        ("KONICA MINOLTA bizhub Ø", "bizhub Ø"),
        ("ÆØÅÆØÅÆØÅ", "ÆØÅÆØÅÆØÅ"),
        ("é", "é"),
    ] {
        let values = HashMap::from([(model.clone(), Scalar::Text(text.as_bytes().to_vec()))]);
        assert_eq!(
            km.evaluate(&values).model.as_deref(),
            Some(expected),
            "{text}"
        );
    }
}

#[test]
fn a_counter64_beyond_2_to_the_63_is_malformed_never_a_number() {
    let p = built_in();
    let km = p.get("konica-minolta-bizhub").unwrap();
    let values = HashMap::from([(oid(&format!("{K}.1.1.0")), Scalar::TooLarge(u64::MAX - 1))]);
    let ev = km.evaluate(&values);
    assert_eq!(ev.meters.value(Meter::Total), None);
    assert_eq!(ev.malformed.len(), 1, "{:?}", ev.malformed);
    assert!(
        ev.malformed[0].contains("18446744073709551614"),
        "{:?}",
        ev.malformed
    );
    assert_eq!(crate::meters::checked_sum(&[i64::MAX as u64, 1]), None);
    assert_eq!(
        crate::meters::checked_sum(&[i64::MAX as u64 - 1, 1]),
        Some(i64::MAX as u64)
    );
}

#[test]
fn a_supply_without_a_type_is_named_by_its_description_in_three_languages() {
    let p = built_in();
    let km = p
        .choose(&oid("1.3.6.1.4.1.18334.1.2.1.2.1.143.1.3"))
        .unwrap();
    let spec = km.supplies.as_ref().unwrap();
    for (description, kind) in [
        ("Toner (Black)", Some("toner")),
        ("Waste Toner Box", Some("waste_toner")),
        ("Resttonerbehälter", Some("waste_toner")),
        ("Tonerauffangbehälter", Some("waste_toner")),
        ("Beholder for spilltoner", Some("waste_toner")),
        ("Tonerkartusche (Gelb)", Some("toner")),
        ("Drum Unit (Cyan)", Some("opc")),
        ("Trommeleinheit (Schwarz)", Some("opc")),
        ("Imaging Unit", Some("opc")),
        ("Developing Unit (Magenta)", Some("developer")),
        ("Entwicklereinheit", Some("developer")),
        ("Fusing Unit", Some("fuser")),
        ("Fixiereinheit", Some("fuser")),
        ("Transfer Roller Unit", Some("transfer_unit")),
        ("Übertragungsband", Some("transfer_unit")),
        ("OVERFØRINGSVALSE", Some("transfer_unit")),
        ("Staple Cartridge", Some("staples")),
        ("Heftklammern", Some("staples")),
        ("Ozone Filter", Some("ozone_filter")),
        ("Punch Scrap Box", None),
    ] {
        assert_eq!(spec.kind_of(description), kind, "{description}");
    }
}

#[test]
fn supply_kinds_in_a_profile_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let write = |kind: &str| {
        std::fs::write(
            dir.path().join("acme.toml"),
            format!(
                "id = \"acme\"\n[supplies]\ntable = \"1.3.6.1.2.1.43.11.1.1\"\n\
                 [[supplies.kind]]\n{kind}\n"
            ),
        )
        .unwrap();
    };
    write("name = \"Toner\"\nwords = [\"toner\"]");
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert_eq!(e.key, "supplies.kind[0].name");
    write("name = \"toner\"\nwords = []");
    let e = load_profiles(Some(dir.path())).unwrap_err();
    assert_eq!(e.key, "supplies.kind[0].words");
    write("name = \"toner\"\nwords = [\"Toner\"]");
    let p = load_profiles(Some(dir.path())).unwrap();
    let acme = p.get("acme").unwrap();
    assert_eq!(
        acme.supplies.as_ref().unwrap().kind_of("BLACK TONER"),
        Some("toner")
    );
}
