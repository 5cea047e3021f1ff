//! The `subnetd` binary as users run it: `check` on good and bad files, and the sandbox's JSON.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn subnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(args)
        .env("SUBNETD_CACHE_DIR", common::root().join("target").join("subnetd-test-cache"))
        .env("SUBNETD_ROOT", common::root())
        .output()
        .expect("run subnetd")
}

/// Runs `subnetd check` on `file` and returns its stderr, asserting a clean failure.
fn check_fails(file: &Path) -> String {
    let out = subnetd(&["check", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "non-zero exit for {}: {stderr}", file.display());
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn check_explains_what_is_wrong_with_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module (func (export \"run\")))").unwrap()).unwrap();
    assert!(check_fails(&core).contains("core WebAssembly module, not a component"));

    // A real component of another world: a WASI command (`wasi:cli/run`), not a subnet.
    let command = dir.path().join("command.wasm");
    let text = r#"(component
        (core module $m (func (export "run") (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "run")))
        (instance $cli (export "run" (func $run)))
        (export "wasi:cli/run@0.2.0" (instance $cli)))"#;
    std::fs::write(&command, wat::parse_str(text).unwrap()).unwrap();
    let line = check_fails(&command);
    assert!(line.contains("does not implement world") && line.contains("wasi:cli/run@0.2.0"), "{line}");

    let built = common::bundle("examples/hello-subnet");
    let bytes = common::read(&built.validator);
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    assert!(check_fails(&truncated).contains("invalid component"));

    let text_file = dir.path().join("notes.wasm");
    std::fs::write(&text_file, "not wasm at all").unwrap();
    assert!(check_fails(&text_file).contains("not a WebAssembly file"));

    // A component that exports the validator interface without `reward`.
    let missing = dir.path().join("missing.wasm");
    let text = r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $api (export "generate-tasks" (func $f)) (export "score" (func $f)))
        (export "subnet:plugin/validator-api@0.1.0" (instance $api)))"#;
    std::fs::write(&missing, wat::parse_str(text).unwrap()).unwrap();
    let line = check_fails(&missing);
    assert!(line.contains("lacks the function `reward`"), "{line}");
}

#[test]
fn check_describes_a_good_component() {
    let built = common::bundle("examples/hello-subnet");
    let out = subnetd(&["check", built.validator.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a valid `validator` component"), "{stdout}");
    assert!(stdout.contains(subnet_host::bindings::VALIDATOR_EXPORT), "{stdout}");
}

#[test]
fn sandbox_json_is_valid_and_repeatable() {
    // One test for every CLI sandbox run on this bundle: parallel `subnetd sandbox` processes
    // would build the same bundle directory at once.
    let root = common::root();
    let hello = root.join("examples/hello-subnet");
    let args = ["sandbox", hello.to_str().unwrap(), "--miners", "8", "--epochs", "3", "--seed", "7", "--json"];
    let first = subnetd(&args);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = subnetd(&args);
    assert_eq!(first.stdout, second.stdout, "same seed, same output");
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).expect("valid JSON");
    let weights = report["final_weights"].as_object().expect("final weights");
    let miners: Vec<&serde_json::Value> =
        report["neurons"].as_array().unwrap().iter().filter(|n| n["kind"] == "miner").collect();
    assert_eq!(miners.len(), 8, "8 miners");
    let last = report["epochs"].as_array().unwrap().last().unwrap();
    assert_eq!(last["neurons"].as_array().unwrap().len(), 9, "weights and scores for every uid");
    for m in &miners {
        let uid = m["uid"].as_u64().unwrap().to_string();
        let weight = weights.get(&uid).and_then(|w| w.as_f64()).unwrap_or(0.0);
        if m["honest"] == true {
            assert!(weight > 0.1, "honest miner {uid} holds weight");
        } else {
            assert_eq!(weight, 0.0, "{} miner {uid} holds none", m["role"]);
        }
    }
    let other_seed =
        subnetd(&["sandbox", hello.to_str().unwrap(), "--miners", "8", "--epochs", "3", "--seed", "8", "--json"]);
    assert_ne!(first.stdout, other_seed.stdout, "another seed, other keys and tasks");

    // `--commit-reveal on|off`: timelocked commits by default, plain set_weights when off.
    let submitted = |mode: &str| {
        let out = subnetd(&["sandbox", hello.to_str().unwrap(), "--epochs", "2", "--json", "--commit-reveal", mode]);
        assert!(out.status.success(), "--commit-reveal {mode}: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        report["epochs"][0]["weights"][0]["submitted"].as_str().unwrap().to_owned()
    };
    assert_eq!(submitted("off"), "set");
    assert_eq!(submitted("on"), "committed");
}

/// A validator whose every `score` fails (it calls a model its bundle was not granted) makes
/// the sandbox exit non-zero with one line that says which key grants the model; with
/// `--allow-failures` the same run exits 0.
#[test]
fn a_sandbox_whose_rounds_all_fail_exits_non_zero_with_the_hint() {
    let bundle = common::root().join("host/tests/all/guests/ungranted-compute");
    // Honest miners only: a lazy miner's task needs no model (nothing to embed) and would score.
    let args =
        ["sandbox", bundle.to_str().unwrap(), "--miners", "2", "--mix", "honest=2", "--epochs", "1", "--seed", "3"];
    let out = subnetd(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("round(s) failed as a whole") && stderr.contains("every task unscored"), "{stderr}");
    assert!(stderr.contains("[compute] models"), "the hint names the key: {stderr}");
    assert!(stderr.contains("--allow-failures"), "{stderr}");
    let out = subnetd(&[&args[..], &["--allow-failures"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `subnetd check` on a bundle validates its subnet.toml: a good one is summarised, and each
/// mistake is named by its key.
#[test]
fn check_validates_a_bundles_subnet_toml_naming_the_key() {
    let hello = common::root().join("examples/hello-subnet");
    let out = subnetd(&["check", hello.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("a valid bundle `hello-subnet`") && stdout.contains("(rust)"), "{stdout}");
    assert!(stdout.contains("miner") && stdout.contains("honest"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("v")).unwrap();
    std::fs::write(dir.path().join("v/app.py"), "").unwrap();
    for (toml, needle) in [
        ("[validator]\npath = \"v\"\n[[miner]]\nname = \"a\"\npath = \"v\"\nhonset = false\n", "miner[0].honset"),
        ("[validator]\npath = \"v\"\n[compute]\nmodels = \"x\"\n", "compute.models"),
        (
            "[validator]\npath = \"v\"\n[[miner]]\nname = \"a\"\npath = \"v\"\n[[miner]]\nname = \"a\"\npath = \"v\"\n",
            "miner[1].name",
        ),
        ("[validator]\npath = \"nowhere\"\n", "[validator] path"),
        ("[validator\npath = \"v\"\n", "line 1"),
    ] {
        std::fs::write(dir.path().join("subnet.toml"), toml).unwrap();
        let out = subnetd(&["check", dir.path().to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{toml}: expected `{needle}` in {stderr}");
    }
}
