//! Same scenario and seed → identical rows and byte-identical CSV; another seed → another path.

use ogn_sim::Scenario;

fn short() -> Scenario {
    let mut s =
        Scenario::from_toml_str("name = \"det\"\nyears = 1.0\n[delegators]\ncount = 40\n").unwrap();
    s.lst.run = Some(ogn_sim::LstRun { day: 100, share: 0.3, days: 3 });
    s
}

#[test]
fn same_seed_same_report_byte_for_byte() {
    let s = short();
    let a = ogn_sim::run(&s, 42).unwrap();
    let b = ogn_sim::run(&s, 42).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_csv(), b.to_csv());
    assert_eq!(a.to_svg().unwrap(), b.to_svg().unwrap());
    let c = ogn_sim::run(&s, 43).unwrap();
    assert_ne!(a.rows.last().unwrap().price_usd, c.rows.last().unwrap().price_usd);
}

#[test]
fn outputs_are_written_completely() {
    let s = short();
    let r = ogn_sim::run(&s, 1).unwrap();
    let dir = std::env::temp_dir().join(format!("ogn-sim-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    r.write_csv(&dir.join("r.csv")).unwrap();
    r.write_json(&dir.join("r.json")).unwrap();
    r.write_svg(&dir.join("r.svg")).unwrap();
    let csv = std::fs::read_to_string(dir.join("r.csv")).unwrap();
    assert!(csv.starts_with("run,timestep,day,price_usd,"));
    assert_eq!(csv.lines().count(), 1 + 365);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 365);
    let svg = std::fs::read_to_string(dir.join("r.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("real_yield"));
    assert!(r.summary().contains("M1 yield"));
    // A path that cannot be written fails cleanly and leaves nothing behind.
    let bad = dir.join("missing-dir").join("r.csv");
    assert!(r.write_csv(&bad).is_err());
    assert!(!bad.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
