//! The `ogn` command end to end: a real devnet process on a free loopback port, real hub uploads of the
//! PP-OCR models, and inference whose outputs are compared with onnxruntime's (from `scripts/fetch-fixtures`).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

use serde_json::Value;

/// Largest difference accepted against onnxruntime: |ogn − ort| ≤ ABS + REL·|ort| (float models; see
/// ogn-runtime's docs for why float results differ in the last bits).
const ABS: f64 = 1e-4;
const REL: f64 = 1e-3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(rel: &str) -> PathBuf {
    let path = repo().join("fixtures").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-fixtures (or scripts/test)",
        path.display()
    );
    path
}

/// A running `ogn devnet`, killed when dropped.
struct Devnet {
    child: Child,
    url: String,
    data_dir: tempfile::TempDir,
}

impl Devnet {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ogn"))
            .args(["devnet", "--listen", "127.0.0.1:0", "--max-file-size", "20000000"])
            .args(extra)
            .env("OGN_DATA_DIR", data_dir.path())
            .env_remove("OGN_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ogn devnet");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("devnet exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the devnet never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url, data_dir }
    }

    fn ogn(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ogn"))
            .args(args)
            .env("OGN_HUB_URL", &self.url)
            .env("OGN_DATA_DIR", self.data_dir.path().join("client"))
            .env_remove("OGN_CONFIG")
            .env_remove("OGN_PRIVATE_KEY")
            .output()
            .expect("run ogn")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.ogn(args);
        assert!(
            out.status.success(),
            "ogn {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.ogn(args);
        assert!(!out.status.success(), "ogn {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // SIGTERM first, so the devnet stops the operator processes it started.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// A reference tensor: name, shape, values.
type RefTensor = (String, Vec<usize>, Vec<f32>);

/// The reference input of `stem` as `ogn infer` JSON, and onnxruntime's outputs by name.
fn reference(stem: &str) -> (Value, Vec<RefTensor>) {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("reference/{stem}.json"))).unwrap(),
    )
    .unwrap();
    let dir = fixture("reference");
    let tensor = |t: &Value| {
        let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).unwrap();
        (
            t["name"].as_str().unwrap().to_string(),
            shape,
            read_f32(&dir.join(t["file"].as_str().unwrap())),
        )
    };
    let mut input = serde_json::Map::new();
    for t in manifest["inputs"].as_array().unwrap() {
        let (name, shape, values) = tensor(t);
        input.insert(name, serde_json::json!({ "shape": shape, "values": values }));
    }
    let outputs = manifest["outputs"].as_array().unwrap().iter().map(tensor).collect();
    (Value::Object(input), outputs)
}

fn assert_close(result: &Value, expected: &[RefTensor]) {
    for (name, shape, want) in expected {
        let got = &result["outputs"][name];
        assert_eq!(got["shape"], serde_json::json!(shape), "shape of {name}");
        let values = got["values"].as_array().unwrap();
        assert_eq!(values.len(), want.len());
        let mut worst = 0.0f64;
        for (g, w) in values.iter().zip(want) {
            let (g, w) = (g.as_f64().unwrap(), f64::from(*w));
            let excess = (g - w).abs() - (ABS + REL * w.abs());
            worst = worst.max(excess);
            assert!(excess <= 0.0, "{name}: ogn {g} vs onnxruntime {w}");
        }
    }
}

#[test]
fn push_then_infer_matches_onnxruntime() {
    let net = Devnet::start();
    net.ok(&[
        "model",
        "create",
        "ppocr-cls",
        "--task",
        "ocr",
        "--license",
        "Apache-2.0",
        "--tag",
        "ocr",
    ]);
    let model = fixture("models/ch_ppocr_mobile_v2.0_cls_infer.onnx");
    let pushed = net.ok(&["--json", "model", "push", "ppocr-cls", model.to_str().unwrap()]);
    let pushed: Value = serde_json::from_str(&pushed).unwrap();
    assert_eq!(pushed["version"], "1.00");
    let cid = pushed["files"][0]["ipfsCid"]
        .as_str()
        .or(pushed["files"][0]["cid"].as_str())
        .unwrap()
        .to_string();
    assert_eq!(cid, ogn_types::ModelCid::for_bytes(&std::fs::read(&model).unwrap()).to_string());

    let (input, expected) = reference("ch_ppocr_mobile_v2.0_cls_infer");
    let input_file = net.data_dir.path().join("input.json");
    std::fs::write(&input_file, serde_json::to_vec(&input).unwrap()).unwrap();

    // By name@version and by CID: the same outputs and the same result id.
    let by_name: Value = serde_json::from_str(&net.ok(&[
        "--json",
        "infer",
        "ppocr-cls@1.00",
        "--input",
        input_file.to_str().unwrap(),
    ]))
    .unwrap();
    assert_close(&by_name, &expected);
    let by_cid: Value = serde_json::from_str(&net.ok(&[
        "--json",
        "infer",
        &cid,
        "--input",
        input_file.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(by_cid["resultId"], by_name["resultId"]);
    assert_eq!(by_cid["outputs"], by_name["outputs"]);

    // The devnet's own inference endpoint gives the same result.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let served: Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v0/infer", net.url))
            .json(&serde_json::json!({ "model": "ppocr-cls@1.00", "input": input }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(served["resultId"], by_name["resultId"], "{served}");

    // It comes with a receipt, served again by job number, that `ogn verify` checks and re-executes.
    let job = served["receipt"]["job"].as_u64().expect("a receipt with a job number");
    let again: Value = rt.block_on(async {
        let url = format!("{}/api/v0/receipts/{job}", net.url);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    });
    assert_eq!(again, served["receipt"]);
    assert_eq!(again["result_id"], by_name["resultId"]);
    let receipt_file = net.data_dir.path().join("receipt.json");
    std::fs::write(&receipt_file, serde_json::to_vec(&again).unwrap()).unwrap();
    let checked = net.ok(&[
        "verify",
        receipt_file.to_str().unwrap(),
        "--input",
        input_file.to_str().unwrap(),
        "--reexecute",
    ]);
    assert!(checked.contains("same outputs"), "{checked}");

    // Text mode names the outputs and the result id.
    let text = net.ok(&["infer", &cid, "--input", input_file.to_str().unwrap()]);
    assert!(text.contains(&format!("result  {}", by_name["resultId"].as_str().unwrap())), "{text}");

    // Pull gives back the same bytes.
    let pulled = net.data_dir.path().join("pulled.onnx");
    net.ok(&["model", "pull", "ppocr-cls@1.00", "-o", pulled.to_str().unwrap()]);
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(&model).unwrap());

    // Show lists the version and its file.
    let shown = net.ok(&["model", "show", "ppocr-cls"]);
    assert!(shown.contains("1.00") && shown.contains(&cid), "{shown}");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let net = Devnet::start();
    net.ok(&["model", "create", "cls"]);
    let not_onnx = net.data_dir.path().join("model.onnx");
    std::fs::write(&not_onnx, b"definitely not a protobuf model").unwrap();
    let err = net.fails(&["model", "push", "cls", not_onnx.to_str().unwrap()]);
    assert!(err.contains("not a runnable ONNX model"), "{err}");
    // Nothing was created: the check runs before any version exists.
    let shown = net.ok(&["--json", "model", "show", "cls"]);
    assert_eq!(serde_json::from_str::<Value>(&shown).unwrap()["versions"], serde_json::json!([]));

    let model = fixture("models/ch_ppocr_mobile_v2.0_cls_infer.onnx");
    net.ok(&["model", "push", "cls", model.to_str().unwrap()]);
    let err = net.fails(&["infer", "cls@1.00", "--input", r#"{"x": [[1, 2, 3]]}"#]);
    assert!(err.contains('x') && err.to_lowercase().contains("shape"), "{err}");
    let err = net.fails(&["infer", "cls@1.00", "--input", r#"{"y": [1]}"#]);
    assert!(err.contains("x"), "missing input should be named: {err}");
    let err =
        net.fails(&["infer", "cls@1.00", "--input", r#"{"x": [[[["a"]], [["b"]], [["c"]]]]}"#]);
    assert!(err.contains("string"), "{err}");
    let err = net.fails(&["infer", "cls@9.00", "--input", r#"{"x": [1]}"#]);
    assert!(err.contains("9.00"), "{err}");
    let err = net.fails(&["model", "create", "../etc"]);
    assert!(err.contains("name"), "{err}");
    // Someone else's key cannot add versions.
    let other = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    let err = net.fails(&["--key", other, "model", "push", "cls", model.to_str().unwrap()]);
    assert!(err.contains("403") || err.to_lowercase().contains("owner"), "{err}");
}

#[test]
fn prove_then_verify_an_int8_model() {
    let net = Devnet::start();
    let model = fixture("models/mlp_int8.onnx");
    let (input, _) = reference("mlp_int8");
    // The reference input is two rows; prove the first one.
    let values = input["input"]["values"].as_array().unwrap()[..784].to_vec();
    let one_row = serde_json::json!({ "input": { "shape": [1, 784], "values": values } });
    let input_file = net.data_dir.path().join("row.json");
    std::fs::write(&input_file, serde_json::to_vec(&one_row).unwrap()).unwrap();
    let proof = net.data_dir.path().join("proof.json");
    let model = model.to_str().unwrap();
    net.ok(&[
        "prove",
        model,
        "--input",
        input_file.to_str().unwrap(),
        "-o",
        proof.to_str().unwrap(),
    ]);
    let out = net.ok(&["verify-proof", proof.to_str().unwrap(), "--model", model]);
    assert!(out.contains("valid"), "{out}");

    // A different claimed output fails verification.
    let mut file: Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let first = file["output"][0].as_i64().unwrap();
    file["output"][0] = serde_json::json!(if first == 0 { 1 } else { 0 });
    let forged = net.data_dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&file).unwrap()).unwrap();
    let err = net.fails(&["verify-proof", forged.to_str().unwrap(), "--model", model]);
    assert!(err.contains("proof rejected"), "{err}");

    // The float model cannot stand in for the int8 one.
    let float_model = fixture("models/mlp.onnx");
    let err = net.fails(&[
        "verify-proof",
        proof.to_str().unwrap(),
        "--model",
        float_model.to_str().unwrap(),
    ]);
    assert!(err.contains("not a model ogn-zk can prove"), "{err}");
}

#[test]
fn prove_then_verify_lenet_and_the_1m_parameter_mlp() {
    let net = Devnet::start();
    let lenet = fixture("models/lenet_int8.onnx");
    let (input, _) = reference("lenet_int8");
    let values = input["input"]["values"].as_array().unwrap()[..784].to_vec();
    let one_image = serde_json::json!({ "input": { "shape": [1, 1, 28, 28], "values": values } });
    let input_file = net.data_dir.path().join("image.json");
    std::fs::write(&input_file, serde_json::to_vec(&one_image).unwrap()).unwrap();
    let proof = net.data_dir.path().join("lenet-proof.json");
    let lenet = lenet.to_str().unwrap();
    net.ok(&[
        "prove",
        lenet,
        "--input",
        input_file.to_str().unwrap(),
        "-o",
        proof.to_str().unwrap(),
    ]);
    let out = net.ok(&["verify-proof", proof.to_str().unwrap(), "--model", lenet]);
    assert!(out.contains("valid"), "{out}");
    // The same proof presented for the MLP (same input and output widths) is refused.
    let mlp = fixture("models/mlp_int8.onnx");
    let err =
        net.fails(&["verify-proof", proof.to_str().unwrap(), "--model", mlp.to_str().unwrap()]);
    assert!(err.contains("different model"), "{err}");

    // The MLP 784-1024-256-10 (1M parameters) on the first row of the MLP input.
    let big = fixture("models/mlp_1m_int8.onnx");
    let big = big.to_str().unwrap();
    let (input, _) = reference("mlp");
    let values = input["input"]["values"].as_array().unwrap()[..784].to_vec();
    let row = serde_json::json!({ "input": { "shape": [1, 784], "values": values } });
    let row_file = net.data_dir.path().join("row.json");
    std::fs::write(&row_file, serde_json::to_vec(&row).unwrap()).unwrap();
    let proof = net.data_dir.path().join("big-proof.json");
    net.ok(&["prove", big, "--input", row_file.to_str().unwrap(), "-o", proof.to_str().unwrap()]);
    let out = net.ok(&["verify-proof", proof.to_str().unwrap(), "--model", big]);
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn sim_gives_a_verdict_per_scenario() {
    let scenarios = repo().join("crates/sim/scenarios");
    let out_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ogn"))
        .args(["--json", "sim", "--out"])
        .arg(out_dir.path())
        .arg(scenarios.join("s01_emission_decay.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verdicts: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(verdicts[0]["verdict"].as_str().unwrap().starts_with("breaks"), "{verdicts}");
    for ext in ["csv", "json", "svg"] {
        assert!(
            out_dir.path().join(format!("s01_emission_decay.{ext}")).is_file(),
            "{ext} written"
        );
    }
    let bad = out_dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nno_such_field = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ogn")).arg("sim").arg(&bad).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no_such_field"));
}

#[test]
fn sim_run_gives_quantiles_a_report_and_its_hash_and_compare_shows_differences() {
    let scenarios = repo().join("crates/sim/scenarios");
    let run = |dir: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_ogn"))
            .args(["--json", "sim", "run", "--runs", "3", "--years", "0.2", "--seed", "5"])
            .args(["--heatmap-runs", "0", "--out"])
            .arg(dir)
            .arg(scenarios.join("s00_baseline.toml"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = (run(a.path()), run(b.path()));
    assert_eq!(ra["scenarios"][0]["runs"], 3);
    assert_eq!(ra["scenarios"][0]["csv_sha256"], rb["scenarios"][0]["csv_sha256"]);
    assert_eq!(ra["report_sha256"], rb["report_sha256"]);
    let csv = |d: &std::path::Path| std::fs::read(d.join("s00_baseline.quantiles.csv")).unwrap();
    assert_eq!(csv(a.path()), csv(b.path()), "same seed, byte-identical CSV");
    let html = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(html.contains("real yield covers") && html.contains("<svg"));
    let output = Command::new(env!("CARGO_BIN_EXE_ogn"))
        .args(["--json", "sim", "compare", "--runs", "2", "--years", "0.1"])
        .arg(scenarios.join("s00_baseline.toml"))
        .arg(scenarios.join("s13_governance_change.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cmp: Value = serde_json::from_slice(&output.stdout).unwrap();
    let diffs = cmp["differences"].as_array().unwrap();
    assert!(diffs.iter().any(|d| d["parameter"] == "ledger.half_life_change"), "{cmp}");
    assert_eq!(cmp["b"]["scenario"], "s13_governance_change");
}

#[test]
fn a_dev_account_registers_a_validator_on_the_devnet() {
    let net = Devnet::start();
    net.ok(&["stake", "2000", "--as", "validator", "--commission-ppm", "100000"]);
    let listed = net.ok(&["validators"]);
    assert!(
        listed.contains("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
            && listed.contains("bonded 2000.000000000000000000 OPG"),
        "{listed}"
    );
    // The ledger's own reason reaches the user, and nothing is sent.
    let err = net.fails(&["stake", "2000", "--as", "validator", "--commission-ppm", "900000"]);
    assert!(err.to_lowercase().contains("commission") || err.contains("already"), "{err}");

    // REST shows the same validator and the network's figures; the registration's tip was paid to the
    // validator as a transaction fee.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let staking: Value = rt.block_on(async {
        let url = format!("{}/v1/staking", net.url);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    });
    assert_eq!(staking["totalBonded"], "2000000000000000000000", "{staking}");
    assert_eq!(staking["stakers"][0]["address"], "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    assert_eq!(staking["stakers"][0]["role"], "validator");
    assert_eq!(staking["stakers"][0]["commissionPpm"], 100_000);
    assert_ne!(staking["rewardsAllocated"]["txFees"], "0", "{staking}");
    assert!(staking["subsidyRatioPpm"].as_u64().unwrap() < 1_000_000, "{staking}");
    assert!(staking["incentiveRunwayBlocks"].as_u64().unwrap() > 0);
}

#[test]
fn quantize_a_float_model_then_prove_it() {
    let net = Devnet::start();
    let float = fixture("models/lenet.onnx");
    let (input, _) = reference("lenet");
    let calibration = net.data_dir.path().join("calibration.json");
    std::fs::write(&calibration, serde_json::to_vec(&input).unwrap()).unwrap();
    let int8 = net.data_dir.path().join("lenet_q.onnx");
    let out = net.ok(&[
        "quantize",
        float.to_str().unwrap(),
        "--calibration",
        calibration.to_str().unwrap(),
        "-o",
        int8.to_str().unwrap(),
    ]);
    assert!(out.contains("top-1 agrees with the float model on 2/2"), "{out}");
    let values = input["input"]["values"].as_array().unwrap()[..784].to_vec();
    let one_image = serde_json::json!({ "input": { "shape": [1, 1, 28, 28], "values": values } });
    let image = net.data_dir.path().join("image.json");
    std::fs::write(&image, serde_json::to_vec(&one_image).unwrap()).unwrap();
    let proof = net.data_dir.path().join("q-proof.json");
    let int8 = int8.to_str().unwrap();
    net.ok(&["prove", int8, "--input", image.to_str().unwrap(), "-o", proof.to_str().unwrap()]);
    let out = net.ok(&["verify-proof", proof.to_str().unwrap(), "--model", int8]);
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn infer_writes_a_receipt_that_verifies_offline_and_on_re_execution() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ogn"))
            .args(args)
            .env("OGN_DATA_DIR", dir.path())
            .env_remove("OGN_CONFIG")
            .env_remove("OGN_PRIVATE_KEY")
            .output()
            .expect("run ogn")
    };
    let model = fixture("models/mlp.onnx");
    let model = model.to_str().unwrap();
    let row: Vec<String> = (0..784).map(|i| format!("{}", (i % 17) as f32 / 16.0)).collect();
    let input = dir.path().join("x.json");
    std::fs::write(&input, format!("{{\"input\": [[{}]]}}", row.join(","))).unwrap();
    let input = input.to_str().unwrap();
    let receipt = dir.path().join("receipt.json");
    let receipt_path = receipt.to_str().unwrap();
    let out = run(&["infer", model, "--input", input, "--receipt", receipt_path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out =
        run(&["--json", "verify", receipt_path, "--input", input, "--reexecute", "--model", model]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "VANILLA");
    assert_eq!(report["reexecution"]["outputHash"], "same");
    assert_eq!(report["reexecution"]["layerCommitment"], "same");

    // Another input is refused.
    let other = dir.path().join("y.json");
    std::fs::write(&other, format!("{{\"input\": [[{}]]}}", vec!["0.5"; 784].join(","))).unwrap();
    let out = run(&["verify", receipt_path, "--input", other.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("input hash"));

    // A receipt whose output was changed fails offline.
    let mut r: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    r["attestations"][0]["output_hash"] = Value::String(format!("0x{}", "11".repeat(32)));
    r["output_hash"] = r["attestations"][0]["output_hash"].clone();
    std::fs::write(&receipt, serde_json::to_vec(&r).unwrap()).unwrap();
    let out = run(&["verify", receipt_path]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ogn devnet --operators 3` with its third operator cheating on every job: jobs in VANILLA, REPLICAS and
/// SAMPLING; the cheater's wrong result is caught by the replicas, the dispute is played on chain by the
/// operator processes themselves, and the cheater is slashed and jailed, visible through RPC and the CLI.
#[test]
fn operators_serve_every_mode_and_a_cheater_is_slashed() {
    let net = Devnet::start_with(&["--operators", "3", "--cheating-operators", "1"]);
    let model = fixture("models/mlp.onnx");
    net.ok(&["model", "create", "mlp"]);
    net.ok(&["model", "push", "mlp", model.to_str().unwrap()]);
    // Operator 3 (dev account 3) cheats.
    let cheater = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let announced = |n: usize| {
        rt.block_on(async {
            for _ in 0..600 {
                let url = format!("{}/api/v0/operators", net.url);
                if let Ok(r) = reqwest::get(url).await {
                    let list: Value = r.json().await.unwrap_or_default();
                    if list.as_array().is_some_and(|l| l.len() >= n) {
                        return true;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            false
        })
    };
    assert!(announced(3), "three operators should announce themselves");

    let dir = net.data_dir.path();
    let row: Vec<String> = (0..784).map(|i| format!("{}", (i % 13) as f32 / 13.0)).collect();
    let input = dir.join("x.json");
    std::fs::write(&input, format!("{{\"input\": [[{}]]}}", row.join(","))).unwrap();
    let input = input.to_str().unwrap();
    let local: Value = serde_json::from_str(&net.ok(&[
        "--json",
        "infer",
        model.to_str().unwrap(),
        "--input",
        input,
    ]))
    .unwrap();

    // A job in `mode` through the node's operators: the node's answer, and the receipt written to `receipt`.
    let infer_in_mode = |mode: &str, receipt: &Path| -> Value {
        let out = net.ok(&[
            "--json",
            "infer",
            "mlp@1.00",
            "--input",
            input,
            "--mode",
            mode,
            "--receipt",
            receipt.to_str().unwrap(),
        ]);
        serde_json::from_str(&out).unwrap()
    };

    // REPLICAS 3: every operator runs it; the cheater disagrees, loses the dispute, the honest result stands.
    let receipt = dir.join("replicas.json");
    let reply = infer_in_mode("replicas", &receipt);
    assert_eq!(reply["outputs"], local["outputs"], "the accepted result is the honest one");
    assert!(!reply["disputes"].as_array().unwrap().is_empty(), "{reply}");
    assert_eq!(reply["receipt"]["status"], "disputed");
    let verified =
        net.ok(&["--json", "verify", receipt.to_str().unwrap(), "--input", input, "--inclusion"]);
    assert!(verified.contains("\"REPLICAS"), "{verified}");
    let verified: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(verified["inclusion"]["recordedExecutors"], 3, "{verified}");
    let slashed = verified["inclusion"]["slashedExecutors"].as_array().unwrap();
    assert!(
        slashed.len() == 1 && slashed[0].as_str().unwrap().eq_ignore_ascii_case(cheater),
        "{verified}"
    );
    let signers: Vec<&str> = reply["receipt"]["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["operator"].as_str().unwrap())
        .collect();
    assert!(!signers.iter().any(|s| s.eq_ignore_ascii_case(cheater)), "{signers:?}");
    // The node keeps it: `ogn receipt <job>` gives the same receipt.
    let job = reply["job"].as_u64().unwrap().to_string();
    let kept: Value = serde_json::from_str(&net.ok(&["receipt", &job])).unwrap();
    assert_eq!(kept, reply["receipt"]);

    // Slashed and jailed, through the CLI and the REST staking view.
    let listed = net.ok(&["--json", "operators"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let entry = listed["stakers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["address"].as_str().unwrap().eq_ignore_ascii_case(cheater))
        .cloned()
        .expect("the cheater is listed");
    assert_eq!(entry["jailed"], true, "{entry}");
    assert_eq!(
        entry["bonded"], "900.000000000000000000",
        "10 % of its 1,000 OPG bond slashed: {entry}"
    );

    // The jobs' fees went through the chain's ledger: the executing operators earned inference fees.
    let staking: Value = rt.block_on(async {
        reqwest::get(format!("{}/v1/staking", net.url)).await.unwrap().json().await.unwrap()
    });
    assert_ne!(staking["rewardsAllocated"]["inferenceFees"], "0", "{staking}");
    let earning = staking["stakers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == "operator" && s["commissionEarned"]["inferenceFees"] != "0")
        .count();
    assert!(earning >= 1, "{staking}");

    // VANILLA and SAMPLING (floor 100 %: a verifier always re-executes) with the honest operators left.
    for mode in ["vanilla", "228"] {
        let receipt = dir.join(format!("{mode}.json"));
        let reply = infer_in_mode(mode, &receipt);
        assert_eq!(reply["outputs"], local["outputs"]);
        assert!(reply["disputes"].as_array().unwrap().is_empty(), "{reply}");
        let attestations = reply["receipt"]["attestations"].as_array().unwrap().len();
        assert_eq!(attestations, if mode == "vanilla" { 1 } else { 2 }, "{reply}");
        assert!(reply["receipt"]["inclusion"]["block_number"].as_u64().unwrap() > 0, "{reply}");
        net.ok(&["verify", receipt.to_str().unwrap(), "--input", input, "--inclusion"]);
    }

    // An inference made in a transaction (the precompile, as a contract would) gets a receipt too.
    let inference_id = rt.block_on(async {
        use ogn_types::opengradient::{IInferencePrecompile, ModelInferenceRequest, ModelInput};
        let inputs =
            ogn_types::json::parse_input(&std::fs::read_to_string(input).unwrap()).unwrap();
        let request = ModelInferenceRequest {
            mode: 0,
            modelCID: "mlp@1.00".into(),
            input: ModelInput::from_tensors(&inputs).unwrap(),
        };
        let key: alloy::signers::local::PrivateKeySigner =
            "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a".parse().unwrap();
        let rpc = ogn_operator::RpcClient::new(&net.url, key);
        let call = IInferencePrecompile::runModelInferenceCall { request };
        let mined = rpc
            .send(ogn_chain::INFERENCE_PRECOMPILE, call, alloy::primitives::U256::ZERO)
            .await
            .unwrap();
        assert!(mined.success);
        let log = &mined.receipt["logs"][0];
        let data: alloy::primitives::Bytes = serde_json::from_value(log["data"].clone()).unwrap();
        let event = ogn_chain::inference::decode_inference_event(
            &alloy::primitives::LogData::new_unchecked(
                vec![serde_json::from_value(log["topics"][0].clone()).unwrap()],
                data,
            ),
        )
        .unwrap();
        event.inferenceID
    });
    let receipt = dir.join("onchain.json");
    net.ok(&["receipt", &inference_id, "-o", receipt.to_str().unwrap()]);
    let fetched: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    assert!(fetched["inclusion"]["tx_hash"].is_string(), "{fetched}");
    let verified = net.ok(&[
        "--json",
        "verify",
        receipt.to_str().unwrap(),
        "--input",
        input,
        "--inclusion",
        "--reexecute",
    ]);
    assert!(verified.contains("inferenceRecord"), "{verified}");
}
