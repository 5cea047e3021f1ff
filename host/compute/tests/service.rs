//! Starting the service: configuration checks, device choice, model listing.

mod common;

use std::path::PathBuf;

use common::*;
use subnet_compute::{ComputeConfig, ComputeError, ComputeService, DevicePreference, ModelKind};

fn start(models: Vec<subnet_compute::ModelSpec>, device: DevicePreference) -> Result<ComputeService, ComputeError> {
    ComputeService::start(ComputeConfig { models, device, ..Default::default() })
}

fn config_error(r: Result<ComputeService, ComputeError>) -> String {
    match r {
        Err(ComputeError::Config(m)) => m,
        Err(other) => panic!("expected a configuration error, got {other:?}"),
        Ok(_) => panic!("expected a configuration error, the service started"),
    }
}

#[test]
fn lists_models_and_runs_on_the_cpu() {
    let svc = start(
        vec![
            spec("minilm", ModelKind::TextEmbedding, minilm_dir()),
            spec("effnet", ModelKind::ImageEmbedding, effnet_dir()),
        ],
        DevicePreference::Auto,
    )
    .unwrap();
    // Without the cuda feature (and without a GPU) Auto means the CPU.
    #[cfg(not(feature = "cuda"))]
    assert_eq!(svc.device(), "cpu");
    assert_eq!(
        svc.models(),
        vec![("minilm".to_string(), ModelKind::TextEmbedding), ("effnet".to_string(), ModelKind::ImageEmbedding)]
    );
    let m = svc.metrics();
    assert_eq!(m.device, svc.device());
    assert_eq!(m.models.len(), 2);
    assert!(m.models.iter().all(|m| m.calls == 0 && m.batches == 0));
    assert_eq!(svc.embedding_dim("nope"), None);
}

#[test]
fn bad_model_directories_fail_start_with_the_reason() {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compute-bad-dirs");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("empty")).unwrap();
    std::fs::write(scratch.join("file"), b"not a dir").unwrap();
    // A text model directory whose weights are not a safetensors file.
    let broken = scratch.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(minilm_dir().join(f), broken.join(f)).unwrap();
    }
    std::fs::write(broken.join("model.safetensors"), b"garbage").unwrap();
    // An image directory naming an architecture this crate does not implement.
    let other_arch = scratch.join("other-arch");
    std::fs::create_dir_all(&other_arch).unwrap();
    std::fs::write(other_arch.join("config.json"), br#"{"architecture": "resnet50"}"#).unwrap();

    let cases = [
        (spec("m", ModelKind::TextEmbedding, scratch.join("missing")), "directory"),
        (spec("m", ModelKind::TextEmbedding, scratch.join("file")), "not a directory"),
        (spec("m", ModelKind::TextEmbedding, scratch.join("empty")), "config.json"),
        (spec("m", ModelKind::TextEmbedding, broken.clone()), "model.safetensors"),
        (spec("m", ModelKind::ImageEmbedding, scratch.join("empty")), "config.json"),
        (spec("m", ModelKind::ImageEmbedding, other_arch), "resnet50"),
        // The text model's directory is not an image model.
        (spec("m", ModelKind::ImageEmbedding, minilm_dir()), "architecture"),
        (spec("gen", ModelKind::TextGeneration, minilm_dir()), ".gguf"),
    ];
    for (s, needle) in cases {
        let what = format!("{:?} at {:?}", s.kind, s.path());
        let msg = config_error(start(vec![s], DevicePreference::Cpu));
        assert!(msg.contains(needle), "{what}: {msg:?} lacks {needle:?}");
        assert!(msg.contains("model \""), "{what}: {msg:?} does not name the model");
    }
}

#[test]
fn names_and_limits_are_validated() {
    let msg = config_error(start(
        vec![spec("a", ModelKind::TextEmbedding, minilm_dir()), spec("a", ModelKind::TextEmbedding, minilm_dir())],
        DevicePreference::Cpu,
    ));
    assert!(msg.contains("twice"), "{msg}");
    let msg = config_error(start(vec![spec("../x", ModelKind::TextEmbedding, minilm_dir())], DevicePreference::Cpu));
    assert!(msg.contains("A-Z"), "{msg}");
    let msg = config_error(ComputeService::start(ComputeConfig { max_batch: 0, ..Default::default() }));
    assert!(msg.contains("max_batch"), "{msg}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn asking_for_a_gpu_without_the_cuda_feature_fails_clearly() {
    let msg = config_error(start(vec![], DevicePreference::Cuda(0)));
    assert!(msg.contains("cuda"), "{msg}");
}

#[test]
fn an_empty_service_has_no_models() {
    let svc = start(vec![], DevicePreference::Cpu).unwrap();
    assert!(svc.models().is_empty());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = rt.block_on(svc.embed_text("minilm", vec!["x".into()])).unwrap_err();
    assert_eq!(err, ComputeError::UnknownModel("minilm".into()));
}
