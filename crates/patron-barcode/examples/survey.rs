//! How often each kind of distortion still decodes, over several made-up photos:
//! `cargo run --release -p patron-barcode --example survey [seeds]`.
//! Each seed changes the card's clutter and grain, and the added noise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use image::GrayImage;
use support::*;

/// A distortion: module width in pixels (3 is the photo as made), tilt in
/// degrees, box blur radius, noise amplitude, perspective (keystone) or not.
struct Case(f32, f32, u32, f32, bool);

fn distort(
    photo: &GrayImage,
    Case(module, tilt, blur, amount, keystone): &Case,
    seed: u64,
) -> GrayImage {
    let mut image = if *module == 3.0 {
        photo.clone()
    } else {
        scale(photo, module / 3.0)
    };
    if *keystone {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let corners = [
            (0.12 * w, 0.05 * h),
            (0.88 * w, 0.08 * h),
            (0.98 * w, 0.95 * h),
            (0.02 * w, 0.98 * h),
        ];
        image = perspective(&image, corners, image.width(), image.height());
    }
    if *tilt != 0.0 {
        image = rotate(&image, *tilt);
    }
    if *blur > 0 {
        image = box_blur(&image, *blur);
    }
    if *amount > 0.0 {
        image = noise(&image, *amount, seed);
    }
    image
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(4);
    let cases = [
        Case(3.0, 0.0, 0, 0.0, false),
        Case(3.0, 7.0, 0, 0.0, false),
        Case(3.0, -12.0, 0, 0.0, false),
        Case(3.0, 15.0, 0, 0.0, false),
        Case(3.0, 38.0, 0, 0.0, false),
        Case(3.0, 97.0, 0, 0.0, false),
        Case(3.0, 0.0, 0, 0.0, true),
        Case(3.0, 0.0, 1, 0.0, false),
        Case(3.0, 0.0, 2, 0.0, false),
        Case(3.0, 0.0, 3, 0.0, false),
        Case(3.0, 0.0, 0, 20.0, false),
        Case(3.0, 0.0, 0, 40.0, false),
        Case(2.0, 0.0, 0, 0.0, false),
        Case(1.5, 0.0, 0, 0.0, false),
        Case(1.2, 0.0, 0, 0.0, false),
        Case(1.0, 0.0, 0, 0.0, false),
        Case(1.0, 7.0, 0, 0.0, false),
        Case(2.0, 15.0, 0, 0.0, false),
        Case(3.0, 15.0, 1, 10.0, false),
        Case(3.0, 15.0, 2, 10.0, false),
        Case(2.4, 15.0, 1, 20.0, false),
        Case(2.0, 7.0, 1, 10.0, false),
        Case(3.0, -12.0, 1, 10.0, true),
        Case(2.0, -12.0, 1, 10.0, true),
    ];
    for case in &cases {
        let (mut passed, mut times) = (0, Vec::new());
        for seed in 0..seeds {
            let text = aamva_text(&format!("D{:07}", 1_234_567 + seed), "PUBLIC", "JOHN");
            let photo = card_photo(&pdf417_modules(&text, 5, 15, 3), 3, 1600, 1000, seed);
            let bytes = jpeg(&distort(&photo, case, seed), 70);
            let started = Instant::now();
            let result = patron_barcode::decode_pdf417(&bytes);
            times.push(started.elapsed());
            passed += usize::from(result.as_deref() == Ok(text.as_str()));
        }
        times.sort();
        let Case(module, tilt, blur, amount, keystone) = case;
        println!(
            "module {module:>3} px  tilt {tilt:>5}  blur r={blur}  noise {amount:>2}  keystone {:5}  {passed}/{seeds}  median {:>6.0} ms  max {:>6.0} ms",
            keystone,
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    }
}
