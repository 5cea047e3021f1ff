//! The contract's versioning promises (`wit/README.md`): published versions never change,
//! modules built for an older version of the track keep loading and running, a module built
//! for a newer patch with an added export loads, and one built for another track is refused with
//! the range the host loads.

use std::path::Path;
use std::sync::Arc;

use subnet_host::bindings::{ContractVersion, VERSION};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::guest_build::{GuestSource, Toolchain};
use subnet_host::runtime::{CallEnv, LoadError, World, content_hash};

use crate::common;

/// Every published version of the contract, with the SHA-256 of its frozen text.
const FROZEN: &[(&str, &str)] = &[
    ("wit/v0.1.0/subnet-plugin.wit", "8ae2f72875cad05b9833cb922a8014372078be162a64f285c8b1b766e422f8c6"),
    ("wit/v0.1.1/subnet-plugin.wit", "888cc26b510688eae8db53893ecad7fe8736fde79a3cb78e963b70d3f0ea64a3"),
    ("wit/v0.1.2/subnet-plugin.wit", "5f37195720e6c5ef56a5c79363fe432845bef232e4fe167d6c8e87ee2ddc558f"),
];

/// Prebuilt 0.1.0 guests (`examples/hello-subnet-c`, built when 0.1.0 was current).
const FIXTURES: &str = "host/tests/all/fixtures/contract-0.1.0";

#[test]
fn published_versions_are_frozen() {
    for (path, hash) in FROZEN {
        let text = common::read(&common::root().join(path));
        assert_eq!(content_hash(&text), *hash, "{path} changed: published versions are frozen (see wit/README.md)");
    }
    let current = std::fs::read_to_string(common::root().join("wit/subnet-plugin.wit")).unwrap();
    assert!(current.contains(&format!("package subnet:plugin@{VERSION};")), "bindings::VERSION is not the WIT's");
}

fn env() -> CallEnv {
    CallEnv::new("contract", 7, Arc::new(MetagraphView { netuid: 1, block: 1, neurons: common::neurons(3) }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_built_for_0_1_0_keep_loading_and_running() {
    let runtime = common::runtime();
    let dir = common::root().join(FIXTURES);
    let validator = runtime.load_validator("v0.1.0", &common::read(&dir.join("validator.wasm"))).expect("0.1.0 loads");
    assert_eq!(validator.info().contract, ContractVersion::parse("0.1.0"));
    let miner = runtime.load_miner("m0.1.0", &common::read(&dir.join("miner.wasm"))).expect("0.1.0 miner loads");
    let ctx = common::context(2);
    let tasks = validator.generate_tasks(&env(), &ctx).await.expect("generate-tasks");
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        let request = subnet_host::bindings::types::MinerRequest {
            task_id: task.id.clone(),
            netuid: 1,
            validator: "v".into(),
            payload: task.payload.clone(),
            timeout_ms: task.timeout_ms,
        };
        let answer = miner.handle(&env(), &request).await.expect("handle");
        let response = subnet_host::bindings::types::MinerResponse {
            uid: task.miners[0],
            status: subnet_host::bindings::types::ResponseStatus::Ok,
            latency_ms: 5,
            payload: Some(answer),
        };
        let scores = validator.score(&env(), &ctx, task, &[response]).await.expect("score");
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].score, 1.0, "the 0.1.0 miner's answer is right");
    }
}

/// A copy of the repository's contract and SDKs under `root`, with the contract's version set to
/// `version` and, when `describe` is set, one function added to `validator-api`.
fn contract_copy(root: &Path, version: &str, describe: bool) {
    let wit = std::fs::read_to_string(common::root().join("wit/subnet-plugin.wit")).unwrap();
    let mut wit =
        wit.replace(&format!("package subnet:plugin@{VERSION};"), &format!("package subnet:plugin@{version};"));
    if describe {
        wit = wit.replace(
            "interface validator-api {",
            "interface validator-api {\n    /// Added in the next version: a line about the subnet.\n    describe: func() -> string;",
        );
    }
    std::fs::create_dir_all(root.join("wit")).unwrap();
    std::fs::write(root.join("wit/subnet-plugin.wit"), wit).unwrap();
    // The C SDK and the guest worlds it builds in (the contract's plus WASI HTTP).
    for dir in ["sdk/c", "sdk/wit"] {
        copy_tree(&common::root().join(dir), &root.join(dir));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn build_hello_c(root: &Path, extra: &str) -> Vec<u8> {
    let guest = root.join("validator");
    std::fs::create_dir_all(&guest).unwrap();
    let source = std::fs::read_to_string(common::root().join("examples/hello-subnet-c/validator/validator.c")).unwrap();
    std::fs::write(guest.join("validator.c"), format!("{source}\n{extra}")).unwrap();
    let toolchain =
        Toolchain { root: root.to_path_buf(), cargo_target_dir: common::root().join("target"), release: true };
    let out = root.join("validator.wasm");
    subnet_host::guest_build::build(
        &toolchain,
        &GuestSource { dir: guest, world: World::Validator, language: None },
        &out,
    )
    .expect("build the C validator against the copied contract");
    common::read(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_of_the_next_patch_with_an_added_export_loads_and_runs() {
    let next = ContractVersion { patch: VERSION.patch + 1, ..VERSION };
    let dir = tempfile::tempdir().unwrap();
    contract_copy(dir.path(), &next.to_string(), true);
    let describe = "void exports_subnet_plugin_validator_api_describe(subnet_string_t *ret) {\n  \
                    *ret = subnet_str(\"doubles numbers\");\n}\n";
    let bytes = build_hello_c(dir.path(), describe);
    let runtime = common::runtime();
    let module = runtime.load_validator("next", &bytes).expect("a module of the next patch loads");
    assert_eq!(module.info().contract, Some(next));
    assert!(module.info().exports.iter().any(|e| e.ends_with(&format!("validator-api@{next}"))));
    let tasks = module.generate_tasks(&env(), &common::context(2)).await.expect("and runs");
    assert_eq!(tasks.len(), 2);
}

#[test]
fn a_module_of_another_track_is_refused_with_the_supported_range() {
    let dir = tempfile::tempdir().unwrap();
    contract_copy(dir.path(), "0.2.0", false);
    let bytes = build_hello_c(dir.path(), "");
    let runtime = common::runtime();
    match runtime.load_validator("other-track", &bytes) {
        Err(e @ LoadError::UnsupportedContract { .. }) => {
            let text = e.to_string();
            assert!(text.contains("0.2.0") && text.contains(&ContractVersion::supported_range()), "{text}");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a 0.2.0 module must be refused"),
    }
}
