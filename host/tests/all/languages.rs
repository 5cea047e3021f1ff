//! Guests in every language: the four hello examples agree to the last digit, every scaffold
//! of `subnetd new` builds and runs unchanged, and a Python exception reaches the host with its
//! traceback. Real toolchains (cargo, componentize-py, componentize-js, clang) build real
//! components; scripts/setup.sh installs them.

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::EpochContext;
use subnet_host::bundle::Bundle;
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::guest_build::{self, GuestSource, Language};
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::{CallError, World};
use subnet_host::sandbox::{self, SandboxConfig, SandboxReport};
use subnet_host::scaffold;

async fn sandbox(bundle: &subnet_host::bundle::BuiltBundle, seed: u64) -> SandboxReport {
    let config = SandboxConfig { miners: 4, epochs: 2, seed, ..SandboxConfig::default() };
    sandbox::run(&common::runtime(), bundle, &config, |_, _| {}).await.expect("sandbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_hello_examples_give_the_same_weights() {
    let mut reports = Vec::new();
    for example in ["hello-subnet", "hello-subnet-py", "hello-subnet-js", "hello-subnet-c"] {
        let bundle = common::bundle(&format!("examples/{example}"));
        reports.push((example, sandbox(&bundle, 7).await));
    }
    let (_, rust) = &reports[0];
    assert_eq!(rust.final_weights.len(), 2, "two honest miners hold the weight");
    for (example, report) in &reports[1..] {
        assert_eq!(report.final_weights, rust.final_weights, "{example}: final weights");
        for (a, b) in report.epochs.iter().zip(&rust.epochs) {
            assert_eq!(
                serde_json::to_value(&a.neurons).unwrap(),
                serde_json::to_value(&b.neurons).unwrap(),
                "{example}: epoch {} scores, weights and earnings",
                a.epoch
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scaffold_builds_checks_and_runs_unchanged() {
    let scratch = common::root().join("target").join("scaffold-tests");
    std::fs::create_dir_all(&scratch).unwrap();
    let toolchain = common::toolchain();
    let runtime = common::runtime();
    for language in Language::ALL {
        let dir = tempfile::tempdir_in(&scratch).unwrap();
        let project = dir.path().join("demo");
        scaffold::create(&toolchain, &project, "demo", language).unwrap();
        let built = Bundle::resolve(&project).unwrap().build(&toolchain).unwrap_or_else(|e| panic!("{language}: {e}"));
        // What `subnetd check` does: both components load as their worlds.
        runtime.load_validator("demo", &common::read(&built.validator)).unwrap();
        runtime.load_miner("demo", &common::read(&built.miners[0].2)).unwrap();
        let report = sandbox(&built, 1).await;
        assert!(report.honest_miner_share() > 0.999, "{language}: {:?}", report.totals);
        assert_eq!(report.final_weights.len(), 2, "{language}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_exception_shows_its_traceback() {
    let dir = common::root().join("host/tests/all/guests/py-raises");
    let out = common::root().join("target/test-guests/py-raises.wasm");
    guest_build::build(&common::toolchain(), &GuestSource { dir, world: World::Validator, language: None }, &out)
        .expect("build the Python guest");
    let runtime = common::runtime();
    let module = runtime.load_validator("py-raises", &common::read(&out)).unwrap();
    let ctx = EpochContext { epoch: 3, ..common::context(0) };
    let env = CallEnv::new("py", 1, Arc::new(MetagraphView::default()));
    let err = module.generate_tasks(&env, &ctx).await.expect_err("it raises");
    let text = err.to_string();
    assert!(matches!(err, CallError::Guest { .. } | CallError::Trap { .. }), "{text}");
    assert!(text.contains("py-raises") && text.contains("generate-tasks"), "names module and call: {text}");
    assert!(text.contains("Traceback (most recent call last)"), "{text}");
    assert!(text.contains("lookup_task_table") && text.contains("KeyError: 'missing-3'"), "{text}");
}

/// C guests read and write JSON objects, arrays and strings with the SDK's subnet_json
/// (escapes, non-ASCII text and all): the joining miner earns everything, and the metric its
/// validator returns with each score reaches the report, per task and averaged per uid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_guests_speak_json_and_their_metrics_reach_the_report() {
    let bundle = common::bundle("host/tests/all/guests/c-json");
    let report = sandbox(&bundle, 5).await;
    assert!(report.honest_miner_share() > 0.999, "{:?}", report.totals);
    let roles: std::collections::BTreeMap<u16, &str> =
        report.neurons.iter().filter(|n| n.kind == "miner").map(|n| (n.uid, n.role.as_str())).collect();
    assert_eq!(roles.values().filter(|r| **r == "joiner").count(), 2, "{roles:?}");
    for (uid, role) in &roles {
        let chars = report.metrics.get(uid).and_then(|m| m.get("chars")).copied();
        match *role {
            "joiner" => assert!(chars.is_some_and(|c| c >= 7.0), "uid {uid}: {chars:?}"),
            _ => assert_eq!(chars, Some(0.0), "{role} uid {uid}"),
        }
    }
    let epoch = report.epochs.last().unwrap();
    let scored: Vec<_> = epoch.task_scores.iter().filter(|s| roles.get(&s.uid) == Some(&"joiner")).collect();
    assert_eq!(scored.len(), 2, "one task per joiner: {:?}", epoch.task_scores);
    for s in scored {
        assert_eq!(s.score, 1.0);
        assert_eq!(s.task, format!("join-{}", s.uid));
        let neuron = epoch.neurons.iter().find(|n| n.uid == s.uid).unwrap();
        assert_eq!(neuron.metrics.get("chars"), s.metrics.get("chars"), "one task each: the epoch mean is its value");
    }
    let table = report.render_with(true);
    assert!(table.contains("metrics per uid") && table.contains("chars"), "{table}");
    assert!(!report.render().contains("metrics per uid"), "the table only with --metrics");

    // A payload that is not JSON gets the parser's reason and offset, passed on by the miner.
    let modules = common::modules("host/tests/all/guests/c-json");
    let env = CallEnv::new("c-json", 1, Arc::new(MetagraphView::default()));
    let request = |body: &str| subnet_host::bindings::types::MinerRequest {
        task_id: "t".into(),
        netuid: 1,
        validator: String::new(),
        timeout_ms: 1000,
        payload: subnet_host::bindings::types::Payload {
            content_type: "application/json".into(),
            body: body.as_bytes().to_vec(),
        },
    };
    let err = modules.miner("joiner").handle(&env, &request("{\"words\": [\"a\" \"b\"]}")).await.unwrap_err();
    assert!(err.to_string().contains("invalid JSON payload: expected ',' or ']' at byte 15"), "{err}");
}
