//! Test photos made in code: an AAMVA licence text, its PDF417 barcode drawn on a
//! card with text-like clutter, and the distortions of a phone camera.
#![allow(dead_code)]

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{GrayImage, ImageFormat, Luma};
use rxing::pdf417::encoder::PDF417;

/// A small deterministic PRNG (xorshift64*), so every test photo is reproducible.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() >> 33) as u32 % n.max(1)
    }
    /// Uniform in `-1.0..1.0`.
    pub fn signed(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// An AAMVA DL/ID text as a licence encodes it: "@", LF, RS, CR, the "ANSI "
/// header with its subfile directory, then the DL subfile's elements, each
/// ending in LF, the subfile ending in CR; a jurisdiction subfile (ZT) follows.
pub fn aamva_text(customer_number: &str, family_name: &str, given_name: &str) -> String {
    let dl = [
        format!("DAQ{customer_number}"),
        format!("DCS{family_name}"),
        format!("DAC{given_name}"),
        "DADQUINCY".into(),
        "DBD08242015".into(),
        "DBB04191988".into(),
        "DBA04192030".into(),
        "DBC1".into(),
        "DAYBRO".into(),
        "DAU069 IN".into(),
        "DAG789 E OAK ST".into(),
        "DAIANYTOWN".into(),
        "DAJCA".into(),
        "DAK902230000  ".into(),
        "DCF83D9BN217QO983B1".into(),
        "DCGUSA".into(),
        "DDEN".into(),
        "DDFN".into(),
        "DDGN".into(),
        "DCAC".into(),
        "DCBNONE".into(),
        "DCDNONE".into(),
        "DDAF".into(),
        "DDB12102012".into(),
        "DAW180".into(),
    ];
    let dl_subfile = format!("DL{}\r", dl.join("\n") + "\n");
    let zt_subfile = "ZTZTAN\nZTBTEST\r".to_string();
    // Header: "@\n\x1e\rANSI " IIN(6) version(2) jurisdiction version(2)
    // entries(2), then per subfile: type(2) offset(4) length(4).
    let header_len = 21 + 2 * 10;
    let dl_offset = header_len;
    let zt_offset = dl_offset + dl_subfile.len();
    format!(
        "@\n\x1e\rANSI 636014090102DL{dl_offset:04}{:04}ZT{zt_offset:04}{:04}{dl_subfile}{zt_subfile}",
        dl_subfile.len(),
        zt_subfile.len()
    )
}

/// The barcode's modules, row by row, `true` for black; every codeword row is
/// `row_height` modules tall (3 to 4 on real licences), no quiet zone.
pub fn pdf417_modules(
    text: &str,
    ec_level: u32,
    columns: u32,
    row_height: usize,
) -> Vec<Vec<bool>> {
    let mut encoder = PDF417::new();
    encoder.setDimensions(columns, columns, 90, 3);
    encoder
        .generateBarcodeLogic(text, ec_level)
        .expect("the text fits a PDF417 barcode");
    let matrix = encoder
        .getBarcodeMatrix()
        .as_ref()
        .expect("a barcode matrix after encoding")
        .getScaledMatrix(1, row_height);
    // The encoder's matrix is bottom-up; its writer flips it, and so do we.
    matrix
        .iter()
        .rev()
        .map(|row| row.iter().map(|&m| m == 1).collect())
        .collect()
}

/// A photo of the back of a card: a light, slightly uneven background with
/// noise, lines of text-like blocks above and below, and the barcode, each
/// module `module_px` pixels wide, with a quiet zone of 3 modules around it.
/// `width` by `height`; the barcode is centred horizontally.
pub fn card_photo(
    modules: &[Vec<bool>],
    module_px: u32,
    width: u32,
    height: u32,
    seed: u64,
) -> GrayImage {
    let mut rng = XorShift::new(seed);
    let mut photo = GrayImage::from_fn(width, height, |x, y| {
        // A gentle light fall-off from the top-left corner and grain.
        let shade = 225.0 - 25.0 * (x as f32 / width as f32 + y as f32 / height as f32) / 2.0;
        Luma([(shade + rng.signed() * 6.0).clamp(0.0, 255.0) as u8])
    });
    let code_w = modules[0].len() as u32 * module_px;
    let code_h = modules.len() as u32 * module_px;
    assert!(
        code_w + 8 * module_px < width && code_h + 8 * module_px < height,
        "barcode fits the photo"
    );
    let left = (width - code_w) / 2;
    let top = (height - code_h) * 3 / 5;
    let quiet = 3 * module_px;

    // Text-like clutter: rows of word-sized dark blocks, off the barcode.
    let line_h = (height / 40).max(6);
    let mut y = line_h;
    while y + line_h < height {
        let clear_of_code = y + line_h + quiet < top || y > top + code_h + quiet;
        if clear_of_code {
            let mut x = width / 20;
            while x < width - width / 20 {
                let word = line_h * (2 + rng.below(6));
                let ink = 40 + rng.below(60) as u8;
                for yy in y..y + line_h * 2 / 3 {
                    for xx in x..(x + word).min(width - 1) {
                        if rng.below(5) > 0 {
                            photo.put_pixel(xx, yy, Luma([ink]));
                        }
                    }
                }
                x += word + line_h;
            }
        }
        y += line_h * 2;
    }

    // The barcode on its white quiet zone: ink near 25, paper near 235.
    for yy in top - quiet..top + code_h + quiet {
        for xx in left - quiet..left + code_w + quiet {
            let inside = xx >= left && xx < left + code_w && yy >= top && yy < top + code_h;
            let black = inside
                && modules[((yy - top) / module_px) as usize][((xx - left) / module_px) as usize];
            let base = if black { 25.0 } else { 235.0 };
            photo.put_pixel(
                xx,
                yy,
                Luma([(base + rng.signed() * 8.0).clamp(0.0, 255.0) as u8]),
            );
        }
    }
    photo
}

/// Rotates by `degrees` counter-clockwise about the centre (bilinear), onto a
/// canvas that keeps every corner; the uncovered area is a mid grey table.
pub fn rotate(image: &GrayImage, degrees: f32) -> GrayImage {
    match degrees {
        90.0 => return imageops::rotate270(image),
        180.0 => return imageops::rotate180(image),
        270.0 => return imageops::rotate90(image),
        _ => {}
    }
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let out_w = (w * cos.abs() + h * sin.abs()).ceil() as u32;
    let out_h = (w * sin.abs() + h * cos.abs()).ceil() as u32;
    let (ocx, ocy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    warp(image, out_w, out_h, |x, y| {
        let (dx, dy) = (x - ocx, y - ocy);
        (cos * dx - sin * dy + w / 2.0, sin * dx + cos * dy + h / 2.0)
    })
}

/// A perspective view: the photo's corners land on `corners` (top-left,
/// top-right, bottom-right, bottom-left) of a `width` by `height` canvas.
pub fn perspective(
    image: &GrayImage,
    corners: [(f32, f32); 4],
    width: u32,
    height: u32,
) -> GrayImage {
    let (w, h) = (image.width() as f32, image.height() as f32);
    // The homography from the output quadrilateral back to the source rectangle.
    let to_unit = square_to_quad(corners).inverse();
    warp(image, width, height, |x, y| {
        let (u, v) = to_unit.apply(x, y);
        (u * w, v * h)
    })
}

/// Shears horizontally by `factor` (x' = x + factor * y).
pub fn shear(image: &GrayImage, factor: f32) -> GrayImage {
    let extra = (image.height() as f32 * factor.abs()).ceil() as u32;
    let offset = if factor < 0.0 { extra as f32 } else { 0.0 };
    warp(image, image.width() + extra, image.height(), |x, y| {
        (x - offset - factor * y, y)
    })
}

/// Resamples `image` onto a new canvas; `source_of` maps an output pixel's
/// centre to a source position. Outside the source: grey 110 (a table).
fn warp(
    image: &GrayImage,
    width: u32,
    height: u32,
    source_of: impl Fn(f32, f32) -> (f32, f32),
) -> GrayImage {
    let (sw, sh) = (image.width() as f32, image.height() as f32);
    GrayImage::from_fn(width, height, |x, y| {
        let (sx, sy) = source_of(x as f32 + 0.5, y as f32 + 0.5);
        let (sx, sy) = (sx - 0.5, sy - 0.5);
        if sx < 0.0 || sy < 0.0 || sx > sw - 1.0 || sy > sh - 1.0 {
            return Luma([110]);
        }
        let (x0, y0) = (sx as u32, sy as u32);
        let (x1, y1) = (
            (x0 + 1).min(image.width() - 1),
            (y0 + 1).min(image.height() - 1),
        );
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x, y| f32::from(image.get_pixel(x, y).0[0]);
        let top = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * fx;
        let bottom = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * fx;
        Luma([(top + (bottom - top) * fy).round() as u8])
    })
}

/// A 3x3 projective transform.
struct Homography([f32; 9]);

impl Homography {
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        let d = m[6] * x + m[7] * y + m[8];
        (
            (m[0] * x + m[1] * y + m[2]) / d,
            (m[3] * x + m[4] * y + m[5]) / d,
        )
    }
    fn inverse(&self) -> Self {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        Self([
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ])
    }
}

/// The transform taking the unit square's (0,0),(1,0),(1,1),(0,1) to `q`.
fn square_to_quad(q: [(f32, f32); 4]) -> Homography {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = q;
    let (dx3, dy3) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let den = dx1 * dy2 - dx2 * dy1;
    let g = (dx3 * dy2 - dx2 * dy3) / den;
    let h = (dx1 * dy3 - dx3 * dy1) / den;
    Homography([
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
        1.0,
    ])
}

/// A box blur of radius `r` (a (2r+1)-pixel square), as an out-of-focus lens.
pub fn box_blur(image: &GrayImage, r: u32) -> GrayImage {
    let pass = |src: &GrayImage, horizontal: bool| {
        let (w, h) = src.dimensions();
        GrayImage::from_fn(w, h, |x, y| {
            let (mut sum, mut n) = (0u32, 0u32);
            for k in 0..=2 * r {
                let (xx, yy) = if horizontal {
                    ((x + k).checked_sub(r), Some(y))
                } else {
                    (Some(x), (y + k).checked_sub(r))
                };
                if let (Some(xx), Some(yy)) = (xx, yy)
                    && xx < w
                    && yy < h
                {
                    sum += u32::from(src.get_pixel(xx, yy).0[0]);
                    n += 1;
                }
            }
            Luma([(sum / n) as u8])
        })
    };
    pass(&pass(image, true), false)
}

/// Adds uniform noise of amplitude `amount` (sensor noise).
pub fn noise(image: &GrayImage, amount: f32, seed: u64) -> GrayImage {
    let mut rng = XorShift::new(seed);
    let mut out = image.clone();
    for p in out.pixels_mut() {
        p.0[0] = (f32::from(p.0[0]) + rng.signed() * amount).clamp(0.0, 255.0) as u8;
    }
    out
}

/// Scales by `factor` (bilinear/triangle filter).
pub fn scale(image: &GrayImage, factor: f32) -> GrayImage {
    let w = ((image.width() as f32 * factor).round() as u32).max(1);
    let h = ((image.height() as f32 * factor).round() as u32).max(1);
    imageops::resize(image, w, h, FilterType::Triangle)
}

/// Lower contrast: ink and paper pulled towards mid grey, as under glare.
pub fn low_contrast(image: &GrayImage, keep: f32) -> GrayImage {
    let mut out = image.clone();
    for p in out.pixels_mut() {
        p.0[0] = (128.0 + (f32::from(p.0[0]) - 128.0) * keep).round() as u8;
    }
    out
}

pub fn jpeg(image: &GrayImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .expect("JPEG encodes");
    bytes
}

/// As a colour JPEG, as a phone sends it.
pub fn jpeg_rgb(image: &GrayImage, quality: u8) -> Vec<u8> {
    let rgb = image::RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let v = image.get_pixel(x, y).0[0];
        // A faint colour cast, as a phone's white balance leaves.
        image::Rgb([v, v.saturating_sub(4), v.saturating_sub(10)])
    });
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&rgb)
        .expect("JPEG encodes");
    bytes
}

pub fn png(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("PNG encodes");
    bytes
}
