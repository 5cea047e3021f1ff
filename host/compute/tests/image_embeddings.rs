//! EfficientNet-Lite0 through the service, checked against the PyTorch reference implementation.

mod common;

use std::io::Cursor;

use common::*;
use image::{ImageFormat, RgbImage};
use subnet_compute::ComputeError;

fn reference_cases() -> Vec<(String, Vec<f32>)> {
    let reference = fixture("effnet_reference.json");
    reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["image"].as_str().unwrap().to_string(), as_vec(&c["embedding"])))
        .collect()
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_pytorch_reference() {
    let cases = reference_cases();
    let svc = service_with(|_| {});
    assert_eq!(svc.embedding_dim("effnet"), Some(1280));
    let images: Vec<Vec<u8>> = cases.iter().map(|(p, _)| fixture_bytes(p)).collect();
    let got = svc.embed_image("effnet", images).await.unwrap();
    for ((path, want), v) in cases.iter().zip(&got) {
        let diff = max_abs_diff(v, want);
        assert!(diff < 1e-4, "{path}: max |diff| {diff}");
        assert!((norm(v) - 1.0).abs() < 1e-5);
    }
}

fn sky_sun() -> RgbImage {
    image::load_from_memory(&fixture_bytes("images/sky_sun.png")).unwrap().to_rgb8()
}

/// JPEG input, other sizes and non-square images go through the documented preprocessing and
/// land near the original; different pictures land further away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_formats_and_sizes_embed_consistently() {
    let svc = service_with(|_| {});
    let base = sky_sun();
    let big = image::imageops::resize(&base, 448, 448, image::imageops::FilterType::Triangle);
    // Wider than tall: the centred square crop is the original picture.
    let mut wide = RgbImage::from_pixel(320, 224, image::Rgb([0, 0, 0]));
    image::imageops::overlay(&mut wide, &base, 48, 0);
    let gray = image::DynamicImage::ImageRgb8(base.clone()).to_luma8();
    let mut gray_png = Cursor::new(Vec::new());
    gray.write_to(&mut gray_png, ImageFormat::Png).unwrap();
    let inputs = vec![
        encode(&base, ImageFormat::Png),
        encode(&base, ImageFormat::Jpeg),
        encode(&big, ImageFormat::Png),
        encode(&wide, ImageFormat::Png),
        fixture_bytes("images/checker.png"),
        fixture_bytes("images/noise.png"),
        gray_png.into_inner(),
    ];
    let v = svc.embed_image("effnet", inputs).await.unwrap();
    let reference = &reference_cases()[0];
    assert_eq!(reference.0, "images/sky_sun.png");
    assert!(max_abs_diff(&v[0], &reference.1) < 1e-4);
    assert!(max_abs_diff(&v[3], &v[0]) < 1e-4, "centre crop of the wide image is the original");
    for (i, what) in [(1, "jpeg"), (2, "upscaled")] {
        let sim = dot(&v[0], &v[i]);
        assert!(sim > 0.9, "{what}: cosine {sim}");
        assert!(sim > dot(&v[0], &v[4]) && sim > dot(&v[0], &v[5]), "{what} not closer than other pictures");
    }
    assert!(dot(&v[0], &v[6]) > dot(&v[0], &v[5]), "grey version closer than noise");
    for x in &v {
        assert!((norm(x) - 1.0).abs() < 1e-5);
    }
}

/// PNG whose header claims the given size (no pixel data follows).
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut crc_input = b"IHDR".to_vec();
    crc_input.extend_from_slice(&ihdr);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_are_rejected_without_harm() {
    let svc = service_with(|c| {
        c.max_image_bytes = 200_000;
        c.max_images_per_call = 4;
        c.max_image_dimension = 2048;
    });
    let good = fixture_bytes("images/checker.png");
    let truncated = good[..good.len() / 2].to_vec();
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let mut bmp = b"BM".to_vec();
    bmp.resize(1000, 0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("garbage", (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect()),
        ("truncated png", truncated),
        ("gif", gif),
        ("bmp", bmp),
        ("huge dimensions", png_header(100_000, 100_000)),
        ("zero width", png_header(0, 10)),
        ("jpeg magic only", vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
    ];
    for (what, bytes) in cases {
        let err = svc.embed_image("effnet", vec![good.clone(), bytes]).await.unwrap_err();
        assert!(matches!(&err, ComputeError::InvalidInput(m) if m.starts_with("image 1")), "{what}: {err:?}");
    }
    let err = svc.embed_image("effnet", vec![vec![0u8; 200_001]]).await.unwrap_err();
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("200001 bytes")), "{err:?}");
    let err = svc.embed_image("effnet", vec![good.clone(); 5]).await.unwrap_err();
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("5 images")), "{err:?}");
    assert_eq!(svc.embed_image("effnet", vec![]).await.unwrap(), Vec::<Vec<f32>>::new());
    // The worker is unharmed.
    let v = svc.embed_image("effnet", vec![good]).await.unwrap();
    assert!(max_abs_diff(&v[0], &reference_cases()[1].1) < 1e-4);
    let m = svc.metrics().models.into_iter().find(|m| m.name == "effnet").unwrap();
    assert_eq!(m.errors, 10);
    assert_eq!(m.items, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_image_calls_match_single_calls() {
    let cases = reference_cases();
    let svc = service_with(|c| c.batch_window = std::time::Duration::from_millis(200));
    let tasks: Vec<_> = cases
        .iter()
        .map(|(p, _)| {
            let svc = svc.clone();
            let bytes = fixture_bytes(p);
            tokio::spawn(async move { svc.embed_image("effnet", vec![bytes]).await })
        })
        .collect();
    for ((path, want), t) in cases.iter().zip(tasks) {
        let got = t.await.unwrap().unwrap().remove(0);
        assert!(max_abs_diff(&got, want) < 1e-4, "{path}");
    }
    let m = svc.metrics().models.into_iter().find(|m| m.name == "effnet").unwrap();
    assert!(m.batches < cases.len() as u64, "{} calls, {} passes", cases.len(), m.batches);
}
