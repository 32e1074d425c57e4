//! Median decode times of `decode_pdf417` on made-up licence photos:
//! `cargo run --release -p patron-barcode --example timing [runs]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(5);
    let text = aamva_text("D1234567", "PUBLIC", "JOHN");
    let photo = card_photo(&pdf417_modules(&text, 5, 15, 3), 3, 1600, 1000, 7);
    let big = card_photo(&pdf417_modules(&text, 5, 15, 3), 9, 4000, 2600, 5);
    // The largest photo accepted: 8000x5000, 40 megapixels.
    let huge = card_photo(&pdf417_modules(&text, 5, 15, 3), 18, 8000, 5000, 6);
    let keystone = [
        (100.0, 50.0),
        (1500.0, 120.0),
        (1450.0, 1000.0),
        (80.0, 1050.0),
    ];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("clean 1600x1000 PNG", png(&photo)),
        ("clean 1600x1000 JPEG q70", jpeg(&photo, 70)),
        ("rotated 90 JPEG", jpeg(&rotate(&photo, 90.0), 70)),
        ("rotated 7 JPEG", jpeg(&rotate(&photo, 7.0), 70)),
        ("rotated 15 JPEG", jpeg(&rotate(&photo, 15.0), 70)),
        ("rotated -12 JPEG", jpeg(&rotate(&photo, -12.0), 70)),
        ("rotated 45 JPEG", jpeg(&rotate(&photo, 45.0), 70)),
        (
            "perspective JPEG",
            jpeg(&perspective(&photo, keystone, 1600, 1100), 70),
        ),
        ("box blur r=2 JPEG", jpeg(&box_blur(&photo, 2), 70)),
        ("modules 1.5 px PNG", png(&scale(&photo, 0.5))),
        ("4000x2600 RGB JPEG q80", jpeg_rgb(&big, 80)),
        (
            "4000x2600 rotated 6 RGB JPEG",
            jpeg_rgb(&rotate(&big, 6.0), 80),
        ),
        ("8000x5000 RGB JPEG q80", jpeg_rgb(&huge, 80)),
        (
            "8000x5000 rotated 20 RGB JPEG q80",
            jpeg_rgb(&scale(&rotate(&huge, 20.0), 0.75), 80),
        ),
        (
            "scale .8 + rot 15 + blur 1 + noise JPEG",
            jpeg(
                &noise(&box_blur(&rotate(&scale(&photo, 0.8), 15.0), 1), 20.0, 9),
                70,
            ),
        ),
        (
            "rot -12 + perspective + noise + blur 1 JPEG",
            jpeg(
                &box_blur(
                    &noise(
                        &perspective(&rotate(&photo, -12.0), keystone, 1600, 1100),
                        20.0,
                        9,
                    ),
                    1,
                ),
                70,
            ),
        ),
        (
            "no barcode JPEG",
            jpeg(
                &card_photo(&vec![vec![false; 10]; 10], 1, 1600, 1000, 2),
                70,
            ),
        ),
    ];
    for (name, bytes) in &cases {
        let mut times: Vec<Duration> = Vec::new();
        let mut outcome = String::new();
        for _ in 0..runs {
            let started = Instant::now();
            let result = patron_barcode::decode_pdf417(bytes);
            times.push(started.elapsed());
            outcome = match result {
                Ok(found) if found == text => "ok".into(),
                Ok(_) => "WRONG TEXT".into(),
                Err(error) => format!("{error:?}"),
            };
        }
        times.sort();
        println!(
            "{name:45} {outcome:10} median {:>7.1} ms",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
}
