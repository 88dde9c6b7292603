//! A small page layout over `krilla`: A4 pages, DejaVu Sans (embedded and subsetted, so
//! any script the font covers prints as itself: Hebrew, Greek, Polish, Cyrillic…, and
//! `pdftotext` and screen readers can extract it), left and right aligned text, rules and
//! shaded bands, and a "page n of m" footer. Coordinates are points from the bottom left.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use std::sync::OnceLock;

pub const WIDTH: f32 = 595.0;
pub const HEIGHT: f32 = 842.0;
pub const MARGIN: f32 = 50.0;

static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

#[derive(Clone, Copy)]
pub enum Weight {
    Regular,
    Bold,
}

impl Weight {
    fn ttf(self) -> &'static [u8] {
        match self {
            Weight::Regular => REGULAR_TTF,
            Weight::Bold => BOLD_TTF,
        }
    }

    fn font(self) -> Font {
        static FONTS: OnceLock<(Font, Font)> = OnceLock::new();
        let (regular, bold) = FONTS.get_or_init(|| {
            let load =
                |ttf: &'static [u8]| Font::new(ttf.into(), 0).expect("the shipped font loads");
            (load(REGULAR_TTF), load(BOLD_TTF))
        });
        match self {
            Weight::Regular => regular.clone(),
            Weight::Bold => bold.clone(),
        }
    }
}

/// What a page shows, recorded until the document is written (the footer needs the
/// page count).
enum Mark {
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        gray: u8,
        text: String,
    },
    Rule {
        y: f32,
        width: f32,
    },
    Band {
        y: f32,
        height: f32,
    },
}

pub struct Doc {
    title: String,
    footer: String,
    pages: Vec<Vec<Mark>>,
    current: Vec<Mark>,
}

impl Doc {
    pub fn new(title: &str, footer: &str) -> Self {
        Self {
            title: title.to_string(),
            footer: footer.to_string(),
            pages: Vec::new(),
            current: Vec::new(),
        }
    }

    /// Text with its left edge at `x` and baseline at `y` (points from the bottom).
    pub fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, s: &str) {
        let text: String = s.chars().filter(|c| !c.is_control()).collect();
        self.current.push(Mark::Text {
            x,
            y,
            size,
            weight,
            gray: 0,
            text,
        });
    }

    /// Text with its right edge at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, size: f32, weight: Weight, s: &str) {
        let width = width_in(weight, s, size);
        self.text(right - width, y, size, weight, s);
    }

    /// A horizontal rule across the text width.
    pub fn rule(&mut self, y: f32, width: f32) {
        self.current.push(Mark::Rule { y, width });
    }

    /// A light grey band behind a table row or heading.
    pub fn band(&mut self, y: f32, height: f32) {
        self.current.push(Mark::Band { y, height });
    }

    pub fn new_page(&mut self) {
        let done = std::mem::take(&mut self.current);
        self.pages.push(done);
    }

    /// The finished file.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.new_page();
        let count = self.pages.len();
        let mut document = Document::new();
        for (n, mut marks) in std::mem::take(&mut self.pages).into_iter().enumerate() {
            marks.push(Mark::Text {
                x: MARGIN,
                y: 30.0,
                size: 8.0,
                weight: Weight::Regular,
                gray: 102,
                text: format!("{}  ·  page {} of {count}", self.footer, n + 1),
            });
            let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or("page size")?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            for mark in &marks {
                draw(&mut surface, mark);
            }
            surface.finish();
            page.finish();
        }
        document.set_metadata(
            Metadata::new()
                .title(self.title.clone())
                .producer("PinPay".to_string()),
        );
        document
            .finish()
            .map_err(|e| format!("the PDF cannot be written: {e:?}"))
    }
}

fn draw(surface: &mut Surface<'_>, mark: &Mark) {
    match mark {
        Mark::Text {
            x,
            y,
            size,
            weight,
            gray,
            text,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: luma::Color::new(*gray).into(),
                ..Fill::default()
            }));
            // Runs of right-to-left script are shaped right to left, in a line that reads
            // left to right (the documents' direction).
            let mut at = *x;
            for (run, rtl) in runs(text) {
                let direction = if rtl {
                    TextDirection::RightToLeft
                } else {
                    TextDirection::LeftToRight
                };
                surface.draw_text(
                    Point::from_xy(at, HEIGHT - y),
                    weight.font(),
                    *size,
                    run,
                    false,
                    direction,
                );
                at += width_in(*weight, run, *size);
            }
        }
        Mark::Rule { y, width } => {
            let mut pb = PathBuilder::new();
            pb.move_to(MARGIN, HEIGHT - y);
            pb.line_to(WIDTH - MARGIN, HEIGHT - y);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    width: *width,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Mark::Band { y, height } => {
            let rect = Rect::from_xywh(MARGIN, HEIGHT - y - height, WIDTH - 2.0 * MARGIN, *height);
            if let Some(path) = rect.and_then(|r| {
                let mut pb = PathBuilder::new();
                pb.push_rect(r);
                pb.finish()
            }) {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: luma::Color::new(237).into(),
                    ..Fill::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

/// Whether `c` belongs to a right-to-left script (Hebrew, Arabic and their neighbours).
fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// `s` cut into runs of one direction: neutral characters (spaces, digits, punctuation)
/// between two right-to-left characters belong to their run, elsewhere to the line's.
fn runs(s: &str) -> Vec<(&str, bool)> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let strong_rtl = |i: usize| is_rtl(chars[i].1);
    let strong_ltr = |i: usize| chars[i].1.is_alphabetic() && !is_rtl(chars[i].1);
    let dir: Vec<bool> = (0..chars.len())
        .map(|i| {
            if strong_rtl(i) {
                return true;
            }
            if strong_ltr(i) {
                return false;
            }
            let before = (0..i).rev().find(|&j| strong_rtl(j) || strong_ltr(j));
            let after = (i + 1..chars.len()).find(|&j| strong_rtl(j) || strong_ltr(j));
            before.is_some_and(strong_rtl) && after.is_some_and(strong_rtl)
        })
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=chars.len() {
        if i == chars.len() || dir[i] != dir[start] {
            let (from, to) = (chars[start].0, chars.get(i).map_or(s.len(), |c| c.0));
            out.push((&s[from..to], dir[start]));
            start = i;
        }
    }
    out
}

/// The advance of each character of `s` in the font of `weight` at `size` points.
fn advances(weight: Weight, s: &str, size: f32) -> Vec<f32> {
    use skrifa::instance::{LocationRef, Size};
    use skrifa::{FontRef, MetadataProvider};
    let Ok(font) = FontRef::new(weight.ttf()) else {
        return vec![0.0; s.chars().count()];
    };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
    s.chars()
        .map(|c| {
            let glyph = charmap.map(c).unwrap_or_default();
            metrics.advance_width(glyph).unwrap_or(0.0)
        })
        .collect()
}

/// The advance width of `s` in the font of `weight` at `size` points.
fn width_in(weight: Weight, s: &str, size: f32) -> f32 {
    advances(weight, s, size).iter().sum()
}

/// The width of `s` in the regular font at `size` points.
pub fn text_width(s: &str, size: f32) -> f32 {
    width_in(Weight::Regular, s, size)
}

/// `s` cut to fit `width` at `size` points, with an ellipsis when cut (the font is read
/// once per call, not once per character).
pub fn fit(s: &str, width: f32, size: f32) -> String {
    let each = advances(Weight::Regular, s, size);
    if each.iter().sum::<f32>() <= width {
        return s.to_string();
    }
    let room = width - text_width("…", size);
    let mut used = 0.0;
    let mut out: String = s
        .chars()
        .zip(each)
        .take_while(|(_, w)| {
            used += w;
            used <= room
        })
        .map(|(c, _)| c)
        .collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_to_left_runs_keep_their_numbers_and_spaces() {
        assert_eq!(runs("Invoice 12"), vec![("Invoice 12", false)]);
        assert_eq!(
            runs("Company: שלום עולם Ltd"),
            vec![("Company: ", false), ("שלום עולם", true), (" Ltd", false)]
        );
        assert_eq!(runs("אבג 5 דהו"), vec![("אבג 5 דהו", true)]);
        assert!(runs("").is_empty());
    }

    #[test]
    fn widths_come_from_the_font_and_long_text_is_cut() {
        assert!(text_width("WWW", 10.0) > text_width("iii", 10.0));
        assert!(width_in(Weight::Bold, "Total", 10.0) > text_width("Total", 10.0));
        let cut = fit(&"x".repeat(200), 100.0, 9.0);
        assert!(cut.ends_with('…') && text_width(&cut, 9.0) <= 100.0);
        assert_eq!(fit("short", 100.0, 9.0), "short");
    }

    #[test]
    fn a_document_embeds_its_font_and_keeps_non_latin_text() {
        let mut doc = Doc::new("Test", "PinPay");
        doc.text(
            MARGIN,
            700.0,
            12.0,
            Weight::Bold,
            "Zażółć gęślą jaźń · Ελληνικά · עברית",
        );
        let bytes = doc.finish().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("FontFile2") || text.contains("DejaVu"),
            "a font is embedded"
        );
    }
}
