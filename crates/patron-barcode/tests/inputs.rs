//! What is not a usable photo is refused with the right error, quickly, and no
//! input makes the decoder panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use image::GrayImage;
use patron_barcode::{BarcodeError, MAX_BYTES, decode_pdf417, decode_pdf417_within};
use proptest::prelude::*;
use support::*;

fn small_card() -> GrayImage {
    let text = aamva_text("D1234567", "PUBLIC", "JOHN");
    card_photo(&pdf417_modules(&text, 3, 13, 3), 1, 360, 240, 3)
}

/// The CRC-32 of a PNG chunk (type and data).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid PNG whose IHDR now declares `width` by `height` (CRC fixed up).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(&small_card());
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A valid JPEG whose start-of-frame now declares `width` by `height`.
fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&small_card(), 70);
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("a start-of-frame marker");
    // Marker (2), length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

#[track_caller]
fn assert_refused_quickly(bytes: &[u8], expected: impl Fn(&BarcodeError) -> bool) {
    let started = Instant::now();
    let result = decode_pdf417(bytes);
    let took = started.elapsed();
    assert!(
        matches!(&result, Err(error) if expected(error)),
        "got {result:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn declared_dimensions_beyond_the_limits_are_too_large_before_decoding() {
    let too_large = |e: &BarcodeError| matches!(e, BarcodeError::TooLarge(_));
    assert_refused_quickly(&png_declaring(100_000, 100_000), too_large);
    assert_refused_quickly(&png_declaring(8001, 100), too_large);
    // 7000 x 7000 is within each side's limit but 49 megapixels.
    assert_refused_quickly(&png_declaring(7000, 7000), too_large);
    assert_refused_quickly(&jpeg_declaring(65_000, 65_000), too_large);
    assert_refused_quickly(&jpeg_declaring(7500, 7500), too_large);
}

#[test]
fn more_bytes_than_the_limit_are_too_large_unread() {
    let mut bytes = png(&small_card());
    bytes.resize(MAX_BYTES + 1, 0);
    assert_refused_quickly(&bytes, |e| matches!(e, BarcodeError::TooLarge(_)));
}

#[test]
fn other_image_formats_are_unsupported() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert_refused_quickly(gif, |e| *e == BarcodeError::UnsupportedFormat("GIF"));
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 60]);
    assert_refused_quickly(&bmp, |e| *e == BarcodeError::UnsupportedFormat("BMP"));
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
    assert_refused_quickly(heic, |e| *e == BarcodeError::UnsupportedFormat("HEIC/AVIF"));
    let webp = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00";
    assert_refused_quickly(webp, |e| *e == BarcodeError::UnsupportedFormat("WebP"));
}

#[test]
fn what_is_not_an_image_or_is_broken_is_not_an_image() {
    let not_an_image = |e: &BarcodeError| *e == BarcodeError::NotAnImage;
    assert_refused_quickly(b"", not_an_image);
    assert_refused_quickly(b"@\n\x1e\rANSI 636014090102DL", not_an_image);
    let mut rng = XorShift::new(42);
    let random: Vec<u8> = (0..10_000).map(|_| rng.below(256) as u8).collect();
    assert_refused_quickly(&random, not_an_image);
    // A PNG or JPEG signature and nothing after it.
    assert_refused_quickly(b"\x89PNG\r\n\x1a\n", not_an_image);
    assert_refused_quickly(&[0xFF, 0xD8, 0xFF, 0xE0], not_an_image);
    // A PNG cut in half.
    let whole = png(&card_photo(
        &pdf417_modules("TRUNCATED", 3, 5, 3),
        2,
        400,
        300,
        1,
    ));
    assert_refused_quickly(&whole[..whole.len() / 2], not_an_image);
    // A PNG whose header declares no pixels.
    assert_refused_quickly(&png_declaring(0, 100), not_an_image);
}

#[test]
fn a_truncated_jpeg_is_refused_or_searched_without_a_panic() {
    let text = aamva_text("D1234567", "PUBLIC", "JOHN");
    let photo = card_photo(&pdf417_modules(&text, 5, 15, 3), 3, 1600, 1000, 7);
    let whole = jpeg(&photo, 70);
    // The barcode sits in the lower part: a JPEG decoder that returns what it
    // has of a cut file shows no barcode, one that refuses it shows no image.
    for cut in [whole.len() / 3, whole.len() - 100] {
        let result = decode_pdf417_within(&whole[..cut], Duration::from_secs(1));
        assert!(
            matches!(
                result,
                Err(BarcodeError::NotAnImage | BarcodeError::NoBarcode)
            ) || result.as_deref() == Ok(text.as_str()),
            "cut at {cut}: {result:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random damage to a valid PNG or JPEG: bytes overwritten, the file cut
    /// short. Any answer will do but a panic.
    #[test]
    fn damaged_photos_never_panic(
        use_png in any::<bool>(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        keep in 0.2f64..=1.0,
    ) {
        let card = small_card();
        let mut bytes = if use_png { png(&card) } else { jpeg(&card, 70) };
        for (at, value) in damage {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate((bytes.len() as f64 * keep) as usize);
        let _ = decode_pdf417_within(&bytes, Duration::from_millis(100));
    }
}
