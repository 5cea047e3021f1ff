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
