//! Licence photos made in code, distorted as a phone camera would, decoded back
//! to the exact AAMVA text.
//!
//! Known not to decode (see `examples/survey.rs`, which measures pass rates):
//! modules 1 pixel wide or less; a box blur of radius 3 on 3-pixel modules;
//! 2-pixel modules under perspective, tilt, blur and noise all at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use image::GrayImage;
use patron_barcode::{BarcodeError, decode_pdf417, decode_pdf417_within};
use support::*;

/// The search's time budget in these tests: generous, so that a loaded machine
/// (or an unoptimised build) cannot turn a found barcode into `NoBarcode`. The
/// attempts themselves are a fixed list, so what is found does not depend on it.
const BUDGET: Duration = Duration::from_secs(60);

fn text() -> String {
    aamva_text("D1234567", "PUBLIC", "JOHN")
}

/// A 1600x1000 photo of the card, the barcode's modules 3 pixels wide
/// (EC level 5, 15 data columns, rows 3 modules tall).
fn card(text: &str) -> GrayImage {
    card_photo(&pdf417_modules(text, 5, 15, 3), 3, 1600, 1000, 7)
}

#[track_caller]
fn assert_decodes(bytes: &[u8], expected: &str) {
    match decode_pdf417_within(bytes, BUDGET) {
        Ok(text) => assert_eq!(text, expected, "decoded text differs"),
        Err(error) => panic!("not decoded: {error}"),
    }
}

#[test]
fn the_text_round_trips_exactly_with_its_control_characters() {
    let text = text();
    assert!(text.starts_with("@\n\x1e\rANSI 636014"));
    assert!(text.contains("\nDCSPUBLIC\n") && text.ends_with('\r'));
    let photo = card(&text);
    assert_eq!(decode_pdf417(&png(&photo)).as_deref(), Ok(text.as_str()));
    assert_eq!(
        decode_pdf417(&jpeg(&photo, 70)).as_deref(),
        Ok(text.as_str())
    );
    assert_eq!(
        decode_pdf417(&jpeg_rgb(&photo, 85)).as_deref(),
        Ok(text.as_str())
    );
}

#[test]
fn other_error_levels_column_counts_and_texts() {
    for (ec, columns, row_height, name) in [
        (3, 13, 3, "GARCIA-LOPEZ"),
        (4, 17, 4, "O'NEIL"),
        (5, 10, 3, "NGUYEN"),
    ] {
        let text = aamva_text("S98765432109", name, "MARIA ANNE");
        let photo = card_photo(
            &pdf417_modules(&text, ec, columns, row_height),
            3,
            1800,
            1100,
            11,
        );
        assert_decodes(&jpeg(&photo, 70), &text);
    }
}

#[test]
fn quarter_turns() {
    let text = text();
    let photo = card(&text);
    for degrees in [90.0, 180.0, 270.0] {
        assert_decodes(&jpeg(&rotate(&photo, degrees), 70), &text);
    }
}

#[test]
fn small_tilts() {
    let text = text();
    let photo = card(&text);
    for degrees in [3.0, 7.0, -7.0, 15.0, -12.0] {
        assert_decodes(&jpeg(&rotate(&photo, degrees), 70), &text);
    }
}

#[test]
fn large_tilts_and_tilts_off_a_quarter_turn() {
    let text = text();
    let photo = card(&text);
    for degrees in [30.0, -40.0, 45.0, 97.0, 200.0, -75.0] {
        assert_decodes(&jpeg(&rotate(&photo, degrees), 70), &text);
    }
}

#[test]
fn perspective_and_shear() {
    let text = text();
    let photo = card(&text);
    // Taken from below: the top edge narrower than the bottom.
    let keystone = perspective(
        &photo,
        [
            (200.0, 80.0),
            (1400.0, 80.0),
            (1560.0, 1020.0),
            (40.0, 1020.0),
        ],
        1600,
        1100,
    );
    assert_decodes(&jpeg(&keystone, 70), &text);
    // Taken from the side, and tilted.
    let side = perspective(
        &photo,
        [
            (60.0, 60.0),
            (1500.0, 170.0),
            (1520.0, 930.0),
            (80.0, 1060.0),
        ],
        1600,
        1100,
    );
    assert_decodes(&jpeg(&side, 70), &text);
    assert_decodes(&jpeg(&shear(&photo, 0.15), 70), &text);
    assert_decodes(&jpeg(&shear(&photo, -0.25), 70), &text);
}

#[test]
fn blurred() {
    let text = text();
    let photo = card(&text);
    assert_decodes(&jpeg(&box_blur(&photo, 1), 70), &text);
    assert_decodes(&jpeg(&box_blur(&photo, 2), 70), &text);
}

#[test]
fn noisy_and_low_contrast() {
    let text = text();
    let photo = card(&text);
    assert_decodes(&jpeg(&noise(&photo, 40.0, 3), 70), &text);
    assert_decodes(&jpeg(&low_contrast(&photo, 0.35), 70), &text);
}

#[test]
fn small_barcode_modules_of_two_pixels_or_less() {
    let text = text();
    let photo = card(&text);
    // Modules 2 pixels wide: a 1067x667 photo, barcode 648 pixels wide.
    assert_decodes(&jpeg(&scale(&photo, 2.0 / 3.0), 70), &text);
    assert_decodes(&png(&scale(&photo, 2.0 / 3.0)), &text);
    // Modules 1.5 pixels wide: barcode 486 pixels wide.
    assert_decodes(&png(&scale(&photo, 0.5)), &text);
    // Modules 1.2 pixels wide: barcode 389 pixels wide, in an 640x400 photo.
    assert_decodes(&jpeg(&scale(&photo, 0.4), 85), &text);
    // Modules 2 pixels wide, tilted, a little blurred and noisy.
    let small = noise(
        &box_blur(&rotate(&scale(&photo, 2.0 / 3.0), 7.0), 1),
        10.0,
        4,
    );
    assert_decodes(&jpeg(&small, 70), &text);
}

#[test]
fn large_phone_photo() {
    let text = text();
    // 4000x2600, modules 9 pixels wide (the barcode 2900 pixels wide), tilted.
    let photo = card_photo(&pdf417_modules(&text, 5, 15, 3), 9, 4000, 2600, 5);
    assert_decodes(&jpeg_rgb(&photo, 80), &text);
    assert_decodes(&jpeg_rgb(&rotate(&photo, 6.0), 80), &text);
}

#[test]
fn everything_at_once() {
    let text = text();
    let photo = card(&text);
    let hard = noise(&box_blur(&rotate(&scale(&photo, 0.8), 15.0), 1), 20.0, 9);
    assert_decodes(&jpeg(&hard, 70), &text);
    let hard = noise(
        &perspective(
            &rotate(&photo, -12.0),
            [
                (100.0, 50.0),
                (1500.0, 120.0),
                (1450.0, 1000.0),
                (80.0, 1050.0),
            ],
            1600,
            1100,
        ),
        20.0,
        9,
    );
    assert_decodes(&jpeg(&box_blur(&hard, 1), 70), &text);
}

#[test]
fn a_photo_without_a_barcode_is_no_barcode() {
    let mut rng = XorShift::new(1);
    let blank = card_photo(&vec![vec![false; 10]; 10], 1, 1600, 1000, 2);
    let noise_only = GrayImage::from_fn(640, 480, |_, _| image::Luma([rng.below(256) as u8]));
    for bytes in [jpeg(&blank, 70), png(&noise_only)] {
        let started = std::time::Instant::now();
        assert_eq!(decode_pdf417(&bytes), Err(BarcodeError::NoBarcode));
        // The default budget (2.5 s) plus the last attempt and decoding the photo.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }
}
