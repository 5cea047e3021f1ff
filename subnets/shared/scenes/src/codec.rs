//! Image bytes: PNG encoding, PNG/JPEG decoding with limits, base64 for JSON payloads.
//!
//! Decoding treats its input as hostile (miners send it): the format is recognised by its
//! magic bytes, the dimensions are read from the header and checked against [`DecodeLimits`]
//! before any pixel buffer is allocated, and every decoder error becomes a [`DecodeError`]
//! (the decoders themselves do not panic on bad input). Whatever the source (grey, palette,
//! 16-bit, alpha, CMYK JPEG), the result is 8-bit RGB; alpha is dropped, not composited.

use std::io::Cursor;

use base64::Engine as _;

use crate::render::RgbImage;

/// Image formats the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG (baseline or progressive).
    Jpeg,
}

impl Format {
    /// Recognises the format by its magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else {
            None
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
        }
    }
}

/// Bounds on what [`decode_image`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Largest width or height, in pixels.
    pub max_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_bytes: 4 << 20, max_side: 2048 }
    }
}

/// Why bytes are not an acceptable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes than the limit.
    #[error("{len} bytes, at most {max} accepted")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Neither PNG nor JPEG.
    #[error("not a PNG or JPEG image")]
    UnknownFormat,
    /// The header names dimensions over the limit (or zero).
    #[error("{width}x{height} image: sides must be 1 to {max}")]
    BadDimensions {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit.
        max: u32,
    },
    /// The decoder rejected the data.
    #[error("corrupt {format:?}: {reason}")]
    Corrupt {
        /// The format the magic bytes claimed.
        format: Format,
        /// The decoder's words.
        reason: String,
    },
}

/// Encodes an RGB image as PNG (8-bit RGB, default compression).
pub fn encode_png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing to a Vec cannot fail and the buffer matches the header: an error here is a
        // bug in this function, not bad input.
        let mut writer = encoder.write_header().expect("PNG header to a Vec");
        writer.write_image_data(&image.data).expect("PNG data of the declared size");
    }
    out
}

/// Width and height from the header, without decoding pixels.
pub fn dimensions(bytes: &[u8]) -> Result<(Format, u32, u32), DecodeError> {
    let format = Format::sniff(bytes).ok_or(DecodeError::UnknownFormat)?;
    let corrupt = |reason: String| DecodeError::Corrupt { format, reason };
    match format {
        Format::Png => {
            let mut decoder = png::Decoder::new(Cursor::new(bytes));
            let info = decoder.read_header_info().map_err(|e| corrupt(e.to_string()))?;
            Ok((format, info.width, info.height))
        }
        Format::Jpeg => {
            let mut decoder = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(bytes));
            decoder.decode_headers().map_err(|e| corrupt(format!("{e:?}")))?;
            let info = decoder.info().ok_or_else(|| corrupt("no frame header".into()))?;
            Ok((format, u32::from(info.width), u32::from(info.height)))
        }
    }
}

/// Decodes a PNG or JPEG into 8-bit RGB, within `limits` (see the module docs).
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge { len: bytes.len(), max: limits.max_bytes });
    }
    let (format, width, height) = dimensions(bytes)?;
    if width == 0 || height == 0 || width > limits.max_side || height > limits.max_side {
        return Err(DecodeError::BadDimensions { width, height, max: limits.max_side });
    }
    let corrupt = |reason: String| DecodeError::Corrupt { format, reason };
    let pixels = width as usize * height as usize;
    match format {
        Format::Png => {
            // Room for the largest expansion (16-bit RGBA before stripping) plus slack.
            let png_limits = png::Limits { bytes: pixels * 8 + (1 << 20) };
            let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png_limits);
            decoder.set_transformations(png::Transformations::normalize_to_color8());
            let mut reader = decoder.read_info().map_err(|e| corrupt(e.to_string()))?;
            let size = reader.output_buffer_size().ok_or_else(|| corrupt("image too large".into()))?;
            let mut buf = vec![0u8; size];
            let frame = reader.next_frame(&mut buf).map_err(|e| corrupt(e.to_string()))?;
            let (colour, depth) = reader.output_color_type();
            if depth != png::BitDepth::Eight {
                return Err(corrupt(format!("unexpected output depth {depth:?}")));
            }
            let channels = match colour {
                png::ColorType::Grayscale => 1,
                png::ColorType::GrayscaleAlpha => 2,
                png::ColorType::Rgb => 3,
                png::ColorType::Rgba => 4,
                png::ColorType::Indexed => return Err(corrupt("palette not expanded".into())),
            };
            let line = frame.line_size;
            let mut data = Vec::with_capacity(pixels * 3);
            for row in buf.chunks(line).take(height as usize) {
                for px in row[..width as usize * channels].chunks_exact(channels) {
                    match channels {
                        1 | 2 => data.extend_from_slice(&[px[0], px[0], px[0]]),
                        _ => data.extend_from_slice(&px[..3]),
                    }
                }
            }
            if data.len() != pixels * 3 {
                return Err(corrupt("truncated image data".into()));
            }
            Ok(RgbImage { width, height, data })
        }
        Format::Jpeg => {
            let options = zune_core::options::DecoderOptions::default()
                .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGB)
                .set_max_width(limits.max_side as usize)
                .set_max_height(limits.max_side as usize);
            let mut decoder =
                zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
            let data = decoder.decode().map_err(|e| corrupt(format!("{e:?}")))?;
            if data.len() != pixels * 3 {
                return Err(corrupt(format!("{} bytes of pixels for {width}x{height} RGB", data.len())));
            }
            Ok(RgbImage { width, height, data })
        }
    }
}

/// Standard base64 (with padding) of `bytes`.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes of standard base64 text; whitespace is not allowed.
pub fn from_base64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::scene::Scene;

    #[test]
    fn png_round_trips_and_reports_its_dimensions() {
        let scene =
            Scene::parse("three small green triangles below a large purple rectangle on a black background").unwrap();
        let image = render(&scene, 9, 192, 160).unwrap();
        let png = encode_png(&image);
        assert_eq!(dimensions(&png).unwrap(), (Format::Png, 192, 160));
        assert_eq!(decode_image(&png, DecodeLimits::default()).unwrap(), image);
    }

    #[test]
    fn grey_and_alpha_pngs_become_rgb() {
        let mut out = Vec::new();
        {
            let mut e = png::Encoder::new(&mut out, 2, 1);
            e.set_color(png::ColorType::GrayscaleAlpha);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[10, 255, 200, 0]).unwrap();
        }
        let img = decode_image(&out, DecodeLimits::default()).unwrap();
        assert_eq!(img.data, vec![10, 10, 10, 200, 200, 200]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let png = encode_png(&RgbImage::filled(64, 64, [1, 2, 3]));
        assert_eq!(decode_image(b"hello", DecodeLimits::default()), Err(DecodeError::UnknownFormat));
        assert!(matches!(decode_image(&png[..40], DecodeLimits::default()), Err(DecodeError::Corrupt { .. })));
        let mut flipped = png.clone();
        let n = flipped.len();
        flipped[n - 20] ^= 0xFF;
        assert!(decode_image(&flipped, DecodeLimits::default()).is_err());
        assert!(matches!(
            decode_image(&png, DecodeLimits { max_bytes: 10, ..Default::default() }),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            decode_image(&png, DecodeLimits { max_side: 32, ..Default::default() }),
            Err(DecodeError::BadDimensions { .. })
        ));
        assert!(matches!(
            decode_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 1], DecodeLimits::default()),
            Err(DecodeError::Corrupt { .. })
        ));
        // Every truncation of a valid PNG is refused cleanly.
        for cut in (0..png.len()).step_by(7) {
            let _ = decode_image(&png[..cut], DecodeLimits::default());
        }
    }

    #[test]
    fn a_png_claiming_huge_dimensions_is_refused_from_its_header() {
        let mut png = encode_png(&RgbImage::filled(64, 64, [1, 2, 3]));
        // IHDR width at bytes 16..20; the CRC no longer matches, so either check may refuse it.
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(decode_image(&png, DecodeLimits::default()).is_err());
    }

    #[test]
    fn jpegs_decode_close_to_the_original() {
        let scene =
            Scene::parse("a large yellow circle to the left of two small blue squares on a grey background").unwrap();
        let image = render(&scene, 4, 224, 160).unwrap();
        let buffer = image::RgbImage::from_raw(224, 160, image.data.clone()).unwrap();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&buffer).unwrap();
        assert_eq!(dimensions(&jpeg).unwrap(), (Format::Jpeg, 224, 160));
        let decoded = decode_image(&jpeg, DecodeLimits::default()).unwrap();
        assert_eq!((decoded.width, decoded.height), (224, 160));
        let mean_error: f64 = decoded.data.iter().zip(&image.data).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>()
            / decoded.data.len() as f64;
        assert!(mean_error < 4.0, "{mean_error}");
        // The analyser still reads the scene through JPEG artefacts.
        assert_eq!(crate::analyse::analyse(&decoded).scene(), Ok(scene.canonical()));
    }

    #[test]
    fn base64_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_base64(&to_base64(&bytes)).unwrap(), bytes);
        assert!(from_base64("not base64!").is_err());
    }
}
