//! Embeddings per second on this machine, calling the service directly (no wasm module):
//! - `text/one_call_64`: one `embed_text` call with 64 sentences (one forward pass);
//! - `text/concurrent_64x1`: 64 concurrent one-sentence calls, merged by the batching worker;
//! - `image/one_call_16`: one `embed_image` call with 16 PNG images.
//!
//! Criterion prints the throughput in elements (embeddings) per second.
//!
//! Models are found like the tests find them (`SUBNETD_MINILM_DIR`, `SUBNETD_EFFNET_LITE0_DIR`,
//! else the packages in the repository's .venv). Device: `SUBNETD_BENCH_DEVICE` (`cpu` default,
//! `cuda` with `--features cuda`).
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use subnet_compute::{ComputeConfig, ComputeService, DevicePreference, ModelKind};

#[path = "data/sentences.rs"]
mod sentences;
use sentences::sentences;

fn bench(c: &mut Criterion) {
    let device = match std::env::var("SUBNETD_BENCH_DEVICE").as_deref() {
        Ok("cuda") => DevicePreference::Cuda(0),
        _ => DevicePreference::Cpu,
    };
    // `SUBNETD_BENCH_IMAGES=0` skips the image model (e.g. on a machine that only has the text
    // model's files).
    let images_on = std::env::var("SUBNETD_BENCH_IMAGES").as_deref() != Ok("0");
    let mut models = vec![common::spec("minilm", ModelKind::TextEmbedding, common::minilm_dir())];
    if images_on {
        models.push(common::spec("effnet", ModelKind::ImageEmbedding, common::effnet_dir()));
    }
    let svc = ComputeService::start(ComputeConfig {
        models,
        device,
        call_timeout: Duration::from_secs(600),
        ..Default::default()
    })
    .expect("service starts");
    eprintln!("device: {}", svc.device());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let texts = sentences();
    assert_eq!(texts.len(), 64);

    let mut g = c.benchmark_group("text");
    g.sample_size(10).measurement_time(Duration::from_secs(15)).throughput(Throughput::Elements(64));
    g.bench_function("one_call_64", |b| b.iter(|| rt.block_on(svc.embed_text("minilm", texts.clone())).unwrap()));
    g.bench_function("concurrent_64x1", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = texts
                    .iter()
                    .map(|t| {
                        let svc = svc.clone();
                        let t = t.clone();
                        tokio::spawn(async move { svc.embed_text("minilm", vec![t]).await.unwrap() })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    g.finish();

    if !images_on {
        cpu_rate_text(&rt, &svc, &texts);
        return;
    }
    let reference = common::fixture("effnet_reference.json");
    let pngs: Vec<Vec<u8>> = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| common::fixture_bytes(c["image"].as_str().unwrap()))
        .collect();
    let images: Vec<Vec<u8>> = pngs.iter().cycle().take(16).cloned().collect();
    let mut g = c.benchmark_group("image");
    g.sample_size(10).measurement_time(Duration::from_secs(15)).throughput(Throughput::Elements(16));
    g.bench_function("one_call_16", |b| b.iter(|| rt.block_on(svc.embed_image("effnet", images.clone())).unwrap()));
    g.finish();
    // Wall-clock figures above depend on what else the machine runs; process CPU time per
    // embedding does much less, so it is printed too.
    let cpu_rate = |what: &str, items: usize, iters: usize, f: &dyn Fn()| {
        let (Some(c0), t0) = (process_cpu_seconds(), std::time::Instant::now()) else { return };
        for _ in 0..iters {
            f();
        }
        if let Some(c1) = process_cpu_seconds() {
            let n = (items * iters) as f64;
            eprintln!(
                "{what}: {:.1} embeddings per CPU-second, {:.1} per wall-second ({iters} iterations)",
                n / (c1 - c0),
                n / t0.elapsed().as_secs_f64()
            );
        }
    };
    cpu_rate("text/one_call_64", 64, 10, &|| {
        rt.block_on(svc.embed_text("minilm", texts.clone())).unwrap();
    });
    cpu_rate("image/one_call_16", 16, 3, &|| {
        rt.block_on(svc.embed_image("effnet", images.clone())).unwrap();
    });
    let m = svc.metrics();
    for model in m.models {
        eprintln!(
            "{}: calls {} items {} batches {} busy {:.2}s",
            model.name,
            model.calls,
            model.items,
            model.batches,
            model.busy.as_secs_f64()
        );
    }
}

fn cpu_rate_text(rt: &tokio::runtime::Runtime, svc: &ComputeService, texts: &[String]) {
    let (Some(c0), t0) = (process_cpu_seconds(), std::time::Instant::now()) else { return };
    for _ in 0..10 {
        rt.block_on(svc.embed_text("minilm", texts.to_vec())).unwrap();
    }
    if let Some(c1) = process_cpu_seconds() {
        eprintln!(
            "text/one_call_64: {:.1} embeddings per CPU-second, {:.1} per wall-second (10 iterations)",
            640.0 / (c1 - c0),
            640.0 / t0.elapsed().as_secs_f64()
        );
    }
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, 100 ticks/s).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
