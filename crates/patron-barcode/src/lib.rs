//! Finds and decodes the PDF417 barcode on a photo of the back of a driver's
//! licence (the AAMVA "DL/ID" barcode), from the photo's JPEG or PNG bytes.
//!
//! The photo is checked before anything large is allocated: its byte size, its
//! format (JPEG or PNG, by magic bytes) and its declared dimensions (read from
//! the header alone). It is then decoded to greyscale and handed to rxing's
//! PDF417 reader, which finds a barcode turned by a quarter turn, or tilted by
//! up to 2 or 3 degrees, but not one tilted by 7 or 15. So the search goes on
//! through a fixed list of attempts, cheapest and likeliest first: the card's
//! tilt estimated from the directions of its edges (bars and print lie along
//! the card's axes) and the image turned straight; a large phone photo
//! downscaled first, a small one also doubled; noise smoothed, blur sharpened,
//! small modules straightened onto a doubled canvas; finally every tilt in 5
//! degree steps. Each attempt tries rxing's local (hybrid) binarizer, then its
//! global histogram one. The first decoded text wins; at the end of the list,
//! or when the time budget is spent, the answer is [`BarcodeError::NoBarcode`].

use std::io::Cursor;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits, Luma};
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::pdf417::PDF417Reader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, Reader};

/// Photos larger than this many bytes are refused unread.
pub const MAX_BYTES: usize = 15 * 1024 * 1024;
/// Neither side of the photo may be longer than this many pixels.
pub const MAX_SIDE: u32 = 8000;
/// The photo may have at most this many pixels (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// How long [`decode_pdf417`] searches before it gives up with `NoBarcode`.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_millis(2500);

/// Why no barcode text came out of the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    /// The bytes are not an image, or a JPEG/PNG that is truncated or corrupt.
    #[error("not a readable JPEG or PNG image")]
    NotAnImage,
    /// An image, but in a format other than JPEG or PNG.
    #[error("{0} images are not accepted: send a JPEG or PNG photo")]
    UnsupportedFormat(&'static str),
    /// Too many bytes, or too many pixels declared in the header.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// A readable photo on which no PDF417 barcode could be found and decoded.
    #[error("no PDF417 barcode found in the image")]
    NoBarcode,
}

/// Decodes the PDF417 barcode on a photo (JPEG or PNG bytes) and returns its
/// text exactly as encoded, control characters included (an AAMVA licence's
/// text starts with "@\n\x1e\r").
pub fn decode_pdf417(image_bytes: &[u8]) -> Result<String, BarcodeError> {
    decode_pdf417_within(image_bytes, DEFAULT_TIME_BUDGET)
}

/// [`decode_pdf417`] with another time budget for the search (the budget is
/// checked between attempts; one attempt on a downscaled photo takes some tens of
/// milliseconds in a release build). Decoding the photo itself is not counted.
pub fn decode_pdf417_within(
    image_bytes: &[u8],
    time_budget: Duration,
) -> Result<String, BarcodeError> {
    let gray = load_gray(image_bytes)?;
    let deadline = Instant::now() + time_budget;
    search(&gray, deadline).ok_or(BarcodeError::NoBarcode)
}

/// The format by magic bytes: `Ok` for the two accepted ones, the name of a
/// recognised other image format, or `NotAnImage`.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, BarcodeError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageFormat::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    let other = |magic: &[u8]| bytes.starts_with(magic);
    let name = if other(b"GIF87a") || other(b"GIF89a") {
        "GIF"
    } else if other(b"BM") && bytes.len() >= 14 {
        "BMP"
    } else if other(b"II*\0") || other(b"MM\0*") {
        "TIFF"
    } else if other(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "WebP"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        // ISO media: HEIC/HEIF (iPhone photos) or AVIF.
        "HEIC/AVIF"
    } else if other(b"\0\0\x01\0") {
        "ICO"
    } else if other(b"qoif") {
        "QOI"
    } else if other(b"%PDF") {
        "PDF"
    } else {
        return Err(BarcodeError::NotAnImage);
    };
    Err(BarcodeError::UnsupportedFormat(name))
}

/// Checks size, format and declared dimensions, then decodes to greyscale.
fn load_gray(bytes: &[u8]) -> Result<GrayImage, BarcodeError> {
    if bytes.len() > MAX_BYTES {
        return Err(BarcodeError::TooLarge(format!(
            "{} bytes, at most {MAX_BYTES} accepted",
            bytes.len()
        )));
    }
    let format = sniff(bytes)?;

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // The decoded RGBA8 buffer of the largest accepted photo, and some slack.
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    let reader = |limits: Limits| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        reader.limits(limits);
        reader
    };

    // The header alone: nothing the size of the image is allocated here.
    let (width, height) = reader(limits.clone())
        .into_dimensions()
        .map_err(|error| from_image_error(&error))?;
    check_dimensions(width, height)?;

    // The decoders are fuzzed upstream and should not panic on any input; a
    // panic on a hostile file is caught all the same and called not an image.
    let image = catch_unwind(AssertUnwindSafe(|| reader(limits).decode()))
        .map_err(|_| BarcodeError::NotAnImage)?
        .map_err(|error| from_image_error(&error))?;
    let gray = to_gray(image).ok_or(BarcodeError::NotAnImage)?;
    if gray.width() == 0 || gray.height() == 0 {
        return Err(BarcodeError::NotAnImage);
    }
    Ok(gray)
}

/// Greyscale, with the Rec. 709 weights `image` itself uses. The common 8-bit
/// cases are converted here rather than by `image`, whose conversion is slow in
/// an unoptimised (test) build.
fn to_gray(image: DynamicImage) -> Option<GrayImage> {
    let luma = |p: &[u8]| {
        let sum = 2126 * u32::from(p[0]) + 7152 * u32::from(p[1]) + 722 * u32::from(p[2]);
        ((sum + 5000) / 10_000) as u8
    };
    let (width, height) = (image.width(), image.height());
    match image {
        DynamicImage::ImageLuma8(gray) => Some(gray),
        DynamicImage::ImageRgb8(rgb) => {
            let data = rgb.as_raw().chunks_exact(3).map(luma).collect();
            GrayImage::from_raw(width, height, data)
        }
        DynamicImage::ImageRgba8(rgba) => {
            let data = rgba.as_raw().chunks_exact(4).map(luma).collect();
            GrayImage::from_raw(width, height, data)
        }
        other => Some(other.into_luma8()),
    }
}

fn check_dimensions(width: u32, height: u32) -> Result<(), BarcodeError> {
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(BarcodeError::TooLarge(format!(
            "{width}x{height} pixels, at most {MAX_SIDE} on a side accepted"
        )));
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(BarcodeError::TooLarge(format!(
            "{width}x{height} pixels, at most {MAX_PIXELS} pixels accepted"
        )));
    }
    if width == 0 || height == 0 {
        return Err(BarcodeError::NotAnImage);
    }
    Ok(())
}

fn from_image_error(error: &image::ImageError) -> BarcodeError {
    match error {
        image::ImageError::Limits(limit) => BarcodeError::TooLarge(limit.to_string()),
        _ => BarcodeError::NotAnImage,
    }
}

/// The longest side the first attempts work on: a module of a licence barcode
/// that fills a phone photo is still 3 or more pixels wide at this size, and
/// every attempt is several times faster than at 4000 pixels.
const WORKING_SIDE: u32 = 1600;
/// A large photo is tried at most this large after the working scale: its
/// modules are still 5 or more pixels wide, and an attempt (on a canvas turned
/// by up to 45 degrees) stays well under a second, where a 40 megapixel photo
/// would need several.
const SECOND_SIDE: u32 = 3200;
/// Photos whose longest side is below this are also tried at twice the size.
const SMALL_SIDE: u32 = 1000;
/// Tilts within this many degrees of one already tried are not tried again:
/// rxing's PDF417 detector reads a barcode up to 2 or 3 degrees off the axes.
const TILT_TOLERANCE: f32 = 2.5;

/// Tries the variations in order of cost and likelihood; the first decoded text wins.
fn search(gray: &GrayImage, deadline: Instant) -> Option<String> {
    let longest = longest_side(gray);
    let mut scales = Vec::new();
    let downscaled = longest > WORKING_SIDE * 5 / 4;
    if downscaled {
        scales.push(resize_longest(gray, WORKING_SIDE));
    }
    if longest > SECOND_SIDE {
        scales.push(resize_longest(gray, SECOND_SIDE));
    } else {
        scales.push(gray.clone());
    }
    if longest < SMALL_SIDE {
        scales.push(resize_longest(gray, longest * 2));
    }
    let mut search = Search {
        deadline,
        tried: Vec::new(),
    };
    match search.run(&scales, downscaled) {
        ControlFlow::Break(found) => found,
        ControlFlow::Continue(()) => None,
    }
}

/// Which image an attempt was made on: one of the scales, or the working scale
/// smoothed or sharpened, straightened at its own size or at twice it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Scale(usize),
    Smooth,
    Sharp,
    SmoothTwice,
    SharpTwice,
}

/// The attempts made so far. Each step breaks with the text once found, or
/// with `None` once the time is up.
struct Search {
    deadline: Instant,
    tried: Vec<(Source, f32)>,
}

impl Search {
    /// `scales` as [`search`] made them: the first is the working scale, and
    /// it is `downscaled` from the photo's own when the photo is large (then
    /// the second is the photo at full resolution, or at [`SECOND_SIDE`]).
    fn run(&mut self, scales: &[GrayImage], downscaled: bool) -> ControlFlow<Option<String>> {
        let Some(working) = scales.first() else {
            return ControlFlow::Continue(());
        };
        let tilt = estimate_tilt(working);
        // Straightened by the estimated tilt, and as photographed, at every
        // scale. (A failed attempt can take longer than a found one, so the
        // likelier one goes first.)
        for (index, image) in scales.iter().enumerate() {
            self.at(Source::Scale(index), image, tilt)?;
            self.at(Source::Scale(index), image, 0.0)?;
        }
        // Noise smoothed away, then straightened; the estimate a little off (or
        // a perspective view's bars tilted more at one end than at the other);
        // blur sharpened.
        let working_scale = Source::Scale(0);
        let smooth = smooth(working);
        self.at(Source::Smooth, &smooth, tilt)?;
        self.at(working_scale, working, tilt + 3.0)?;
        self.at(working_scale, working, tilt - 3.0)?;
        let sharp = sharpen(working);
        self.at(Source::Sharp, &sharp, tilt)?;
        // Small modules: the smoothed or sharpened image straightened onto a
        // canvas twice the size, which the interpolation blurs less. (Not for
        // a downscaled phone photo: a larger scale of it was tried above.)
        if !downscaled {
            self.at(Source::SmoothTwice, &smooth, tilt)?;
            self.at(Source::SharpTwice, &sharp, tilt)?;
        }
        // In case the estimate is wrong: the filtered images as photographed,
        // then every tilt in 5 degree steps.
        self.at(Source::Smooth, &smooth, 0.0)?;
        self.at(Source::Sharp, &sharp, 0.0)?;
        let mut sweep: Vec<f32> = (-9..=9).map(|k| k as f32 * 5.0).collect();
        sweep.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
        for angle in sweep {
            self.at(working_scale, working, angle)?;
        }
        ControlFlow::Continue(())
    }

    /// One attempt: `image` turned by `angle` degrees, unless an angle within
    /// the detector's tolerance was tried on it already.
    fn at(&mut self, source: Source, image: &GrayImage, angle: f32) -> ControlFlow<Option<String>> {
        if Instant::now() >= self.deadline {
            return ControlFlow::Break(None);
        }
        let seen = |&(s, a): &(Source, f32)| s == source && (a - angle).abs() < TILT_TOLERANCE;
        if self.tried.iter().any(seen) {
            return ControlFlow::Continue(());
        }
        self.tried.push((source, angle));
        let found = match source {
            Source::SmoothTwice | Source::SharpTwice => attempt(&rotate(image, angle, 2.0)),
            _ if angle.abs() < TILT_TOLERANCE / 2.0 => attempt(image),
            _ => attempt(&rotate(image, angle, 1.0)),
        };
        match found {
            Some(text) => ControlFlow::Break(Some(text)),
            None => ControlFlow::Continue(()),
        }
    }
}

fn longest_side(image: &GrayImage) -> u32 {
    image.width().max(image.height())
}

/// One image, the local (hybrid) then the global histogram binarizer.
fn attempt(image: &GrayImage) -> Option<String> {
    let (width, height) = image.dimensions();
    let source = Luma8Source::new_with_slice(image.as_raw(), width, height).ok()?;
    read(HybridBinarizer::new(source.clone()))
        .or_else(|| read(GlobalHistogramBinarizer::new(source)))
}

fn read<B: Binarizer>(binarizer: B) -> Option<String> {
    let hints = DecodeHints::default()
        .with(rxing::DecodeHintValue::TryHarder(true))
        .with(rxing::DecodeHintValue::PureBarcode(false));
    let mut bitmap = BinaryBitmap::new(binarizer);
    // rxing is a port of ZXing with index arithmetic on what the detector found;
    // no input we produce is known to make it panic, but a photo is untrusted
    // input, so a panic inside it is caught here and counted as "not found".
    // (The default panic hook still prints it to stderr.)
    let result = catch_unwind(AssertUnwindSafe(|| {
        PDF417Reader::new().decode_with_hints(&mut bitmap, &hints)
    }))
    .ok()?
    .ok()?;
    let text = result.getText();
    (result.getBarcodeFormat() == &BarcodeFormat::PDF_417 && !text.is_empty())
        .then(|| text.to_owned())
}

/// Scaled so that the longest side is `longest`: averaged over each output
/// pixel's area when shrinking, bilinear when growing.
fn resize_longest(image: &GrayImage, longest: u32) -> GrayImage {
    let current = longest_side(image).max(1);
    if longest >= current {
        return rotate(image, 0.0, longest as f32 / current as f32);
    }
    let (width, height) = image.dimensions();
    let scale = |side: u32| {
        u32::try_from(u64::from(side) * u64::from(longest) / u64::from(current))
            .unwrap_or(u32::MAX)
            .max(1)
    };
    shrink(image, scale(width), scale(height))
}

/// Area-averaging downscale to `out_w` by `out_h` (each no larger than the
/// source's): every source pixel counts in proportion to the part of it that
/// an output pixel covers. Two passes, horizontal then vertical.
fn shrink(image: &GrayImage, out_w: u32, out_h: u32) -> GrayImage {
    /// For each output index: the source indices it covers, with weights.
    fn taps(source: u32, output: u32) -> Vec<Vec<(usize, f32)>> {
        let scale = source as f32 / output as f32;
        (0..output)
            .map(|o| {
                let (start, end) = (o as f32 * scale, (o + 1) as f32 * scale);
                let first = start.floor() as usize;
                let last = (end.ceil() as usize).min(source as usize);
                (first..last)
                    .filter_map(|i| {
                        let covered = end.min(i as f32 + 1.0) - start.max(i as f32);
                        (covered > 0.0).then_some((i, covered / scale))
                    })
                    .collect()
            })
            .collect()
    }
    let (width, height) = image.dimensions();
    let (across, down) = (taps(width, out_w), taps(height, out_h));
    let src = image.as_raw();
    let mut rows = vec![0f32; out_w as usize * height as usize];
    for (y, row) in rows.chunks_exact_mut(out_w as usize).enumerate() {
        let line = &src[y * width as usize..(y + 1) * width as usize];
        for (value, taps) in row.iter_mut().zip(&across) {
            *value = taps.iter().map(|&(i, w)| f32::from(line[i]) * w).sum();
        }
    }
    let mut out = GrayImage::new(out_w, out_h);
    for (y, taps) in down.iter().enumerate() {
        for x in 0..out_w as usize {
            let value: f32 = taps
                .iter()
                .map(|&(i, w)| rows[i * out_w as usize + x] * w)
                .sum();
            out.put_pixel(
                x as u32,
                y as u32,
                Luma([value.round().clamp(0.0, 255.0) as u8]),
            );
        }
    }
    out
}

/// Rotates by `degrees` about the centre and scales by `factor` (bilinear),
/// onto a canvas large enough to keep every corner; the new area is white.
fn rotate(image: &GrayImage, degrees: f32, factor: f32) -> GrayImage {
    let (width, height) = image.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (w, h) = (width as f32, height as f32);
    // Less a hair, so that a quarter turn's rounding error adds no pixel.
    let out_w = ((w * cos.abs() + h * sin.abs()) * factor - 0.01)
        .ceil()
        .max(1.0) as u32;
    let out_h = ((w * sin.abs() + h * cos.abs()) * factor - 0.01)
        .ceil()
        .max(1.0) as u32;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ocx, ocy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    let src = image.as_raw();
    let stride = width as usize;
    let mut out = GrayImage::from_pixel(out_w, out_h, Luma([255]));
    // The inverse rotation maps an output pixel back into the source; along a
    // row the source position moves by a constant step.
    let (step_x, step_y) = (cos / factor, sin / factor);
    for (y, row) in out.chunks_exact_mut(out_w as usize).enumerate() {
        let dy = (y as f32 + 0.5 - ocy) / factor;
        let dx = (0.5 - ocx) / factor;
        let mut sx = cos * dx - sin * dy + cx - 0.5;
        let mut sy = sin * dx + cos * dy + cy - 0.5;
        for pixel in row.iter_mut() {
            // Outside the source (by more than the half pixel at its edge): white.
            if sx >= -0.5 && sy >= -0.5 && sx <= w - 0.5 && sy <= h - 0.5 {
                let (x, y) = (sx.clamp(0.0, w - 1.0), sy.clamp(0.0, h - 1.0));
                let (x0, y0) = (x as usize, y as usize);
                let (x1, y1) = ((x0 + 1).min(stride - 1), (y0 + 1).min(height as usize - 1));
                let (fx, fy) = (x - x0 as f32, y - y0 as f32);
                let at = |x: usize, y: usize| f32::from(src[y * stride + x]);
                let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
                let bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
                *pixel = (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8;
            }
            sx += step_x;
            sy += step_y;
        }
    }
    out
}

/// The card's tilt in degrees, in (-45, 45]: the peak of the histogram of edge
/// directions folded onto a quarter turn. A licence barcode's bars and the card's
/// printed text all lie along the card's axes, so their edges agree.
fn estimate_tilt(image: &GrayImage) -> f32 {
    const BINS: usize = 180; // half a degree each, over 90 degrees
    let (width, height) = image.dimensions();
    let (w, h) = (width as usize, height as usize);
    let px = image.as_raw();
    let mut histogram = [0f32; BINS];
    let at = |x: usize, y: usize| i32::from(px[y * w + x]);
    for y in (1..h.saturating_sub(1)).step_by(2) {
        for x in (1..w.saturating_sub(1)).step_by(2) {
            // Scharr's kernels: far less biased towards the axes than Sobel's.
            let gx = 3 * (at(x + 1, y - 1) - at(x - 1, y - 1))
                + 10 * (at(x + 1, y) - at(x - 1, y))
                + 3 * (at(x + 1, y + 1) - at(x - 1, y + 1));
            let gy = 3 * (at(x - 1, y + 1) - at(x - 1, y - 1))
                + 10 * (at(x, y + 1) - at(x, y - 1))
                + 3 * (at(x + 1, y + 1) - at(x + 1, y - 1));
            let magnitude = ((gx * gx + gy * gy) as f32).sqrt();
            if magnitude < 400.0 {
                continue;
            }
            let degrees = (gy as f32).atan2(gx as f32).to_degrees().rem_euclid(90.0);
            let bin = ((degrees * 2.0) as usize).min(BINS - 1);
            histogram[bin] += magnitude;
        }
    }
    // Smooth over +-2 degrees (circularly) and take the peak.
    let smoothed =
        |bin: usize| -> f32 { (0..9).map(|k| histogram[(bin + BINS + k - 4) % BINS]).sum() };
    let peak = (0..BINS)
        .max_by(|&a, &b| smoothed(a).total_cmp(&smoothed(b)))
        .unwrap_or(0);
    let degrees = peak as f32 / 2.0 + 0.25;
    if degrees > 45.0 {
        degrees - 90.0
    } else {
        degrees
    }
}

/// A 3x3 binomial (1 2 1) smoothing, close to a Gaussian of sigma 0.85: takes
/// the edge off sensor and JPEG noise. Edges repeat the border pixels.
fn smooth(image: &GrayImage) -> GrayImage {
    let (width, height) = image.dimensions();
    let (w, h) = (width as usize, height as usize);
    let src = image.as_raw();
    let pass = |src: &[u16], step: usize, len: usize, at: &dyn Fn(usize) -> usize| -> Vec<u16> {
        (0..src.len())
            .map(|i| {
                let pos = at(i);
                let before = if pos == 0 { i } else { i - step };
                let after = if pos + 1 == len { i } else { i + step };
                src[before] + 2 * src[i] + src[after]
            })
            .collect()
    };
    let wide: Vec<u16> = src.iter().map(|&v| u16::from(v)).collect();
    let across = pass(&wide, 1, w, &|i| i % w);
    let both = pass(&across, w, h, &|i| i / w);
    let data = both.iter().map(|&v| ((v + 8) / 16) as u8).collect();
    GrayImage::from_raw(width, height, data).unwrap_or_else(|| image.clone())
}

/// Unsharp mask (original + (original - smoothed)), for a blurred photo.
fn sharpen(image: &GrayImage) -> GrayImage {
    let soft = smooth(image);
    let mut out = image.clone();
    for (pixel, soft) in out.pixels_mut().zip(soft.pixels()) {
        let value = 2 * i16::from(pixel.0[0]) - i16::from(soft.0[0]);
        pixel.0[0] = value.clamp(0, 255) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats_by_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(ImageFormat::Jpeg));
        assert_eq!(
            sniff(b"GIF89a......"),
            Err(BarcodeError::UnsupportedFormat("GIF"))
        );
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Err(BarcodeError::UnsupportedFormat("WebP"))
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic"),
            Err(BarcodeError::UnsupportedFormat("HEIC/AVIF"))
        );
        assert_eq!(sniff(b""), Err(BarcodeError::NotAnImage));
        assert_eq!(sniff(b"hello world"), Err(BarcodeError::NotAnImage));
    }

    #[test]
    fn dimensions_are_bounded() {
        assert!(check_dimensions(8000, 5000).is_ok());
        assert!(matches!(
            check_dimensions(8001, 10),
            Err(BarcodeError::TooLarge(_))
        ));
        assert!(matches!(
            check_dimensions(7000, 7000),
            Err(BarcodeError::TooLarge(_))
        ));
        assert_eq!(check_dimensions(0, 10), Err(BarcodeError::NotAnImage));
    }

    #[test]
    fn rotation_keeps_every_corner() {
        let mut image = GrayImage::from_pixel(40, 20, Luma([255]));
        image.put_pixel(0, 0, Luma([0]));
        let turned = rotate(&image, 90.0, 1.0);
        assert_eq!(turned.dimensions(), (20, 40));
        let dark: Vec<(u32, u32)> = turned
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        // The top-left corner of the source lands on a corner of the result.
        assert_eq!(dark.len(), 1);
        assert!(matches!(dark[0], (0 | 19, 0 | 39)), "{dark:?}");
        // 40x20 turned by 30 degrees: 40cos + 20sin by 40sin + 20cos.
        assert_eq!(rotate(&image, 30.0, 1.0).dimensions(), (45, 38));
        assert_eq!(rotate(&image, 0.0, 2.0).dimensions(), (80, 40));
    }

    #[test]
    fn shrinking_averages_areas_and_smoothing_keeps_flat_areas() {
        let checker =
            GrayImage::from_fn(9, 6, |x, y| Luma([if (x + y) % 2 == 0 { 0 } else { 200 }]));
        let small = shrink(&checker, 3, 2);
        assert_eq!(small.dimensions(), (3, 2));
        // Each output pixel averages a 3x3 block: 4 or 5 of its 9 pixels are 200.
        assert!(
            small.pixels().all(|p| (88..=112).contains(&p.0[0])),
            "{small:?}"
        );
        let flat = GrayImage::from_pixel(5, 4, Luma([77]));
        assert_eq!(smooth(&flat), flat);
        assert_eq!(resize_longest(&flat, 10).dimensions(), (10, 8));
        assert_eq!(
            resize_longest(&GrayImage::new(4000, 3000), 1600).dimensions(),
            (1600, 1200)
        );
    }

    #[test]
    fn the_tilt_of_axis_aligned_stripes_is_found() {
        // Vertical stripes 3 pixels wide, turned by known angles.
        let stripes = GrayImage::from_fn(300, 200, |x, _| {
            Luma([if x / 3 % 2 == 0 { 20 } else { 230 }])
        });
        for degrees in [0.0f32, 5.0, -12.0, 30.0, -40.0] {
            let estimate = estimate_tilt(&rotate(&stripes, degrees, 1.0));
            assert!(
                (estimate + degrees).abs() < 2.5,
                "turned {degrees}, estimated {estimate}"
            );
        }
    }
}
