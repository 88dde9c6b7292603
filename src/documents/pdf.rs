//! A small page layout over `pdf-writer`: A4 pages, the standard Helvetica fonts in
//! WinAnsi encoding (text that `pdftotext` and screen readers can extract), left and
//! right aligned text, rules and shaded bands, and a "page n of m" footer.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub const WIDTH: f32 = 595.0;
pub const HEIGHT: f32 = 842.0;
pub const MARGIN: f32 = 50.0;

const REGULAR: Name = Name(b"F1");
const BOLD: Name = Name(b"F2");

#[derive(Clone, Copy)]
pub enum Weight {
    Regular,
    Bold,
}

pub struct Doc {
    title: String,
    footer: String,
    pages: Vec<Content>,
    current: Content,
}

impl Doc {
    pub fn new(title: &str, footer: &str) -> Self {
        Self {
            title: title.to_string(),
            footer: footer.to_string(),
            pages: Vec::new(),
            current: Content::new(),
        }
    }

    /// Text with its left edge at `x` and baseline at `y` (points from the bottom).
    pub fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, s: &str) {
        let font = match weight {
            Weight::Regular => REGULAR,
            Weight::Bold => BOLD,
        };
        self.current
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(s)))
            .end_text();
    }

    /// Text with its right edge at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, size: f32, weight: Weight, s: &str) {
        let width = text_width(s, size);
        self.text(right - width, y, size, weight, s);
    }

    /// A horizontal rule across the text width.
    pub fn rule(&mut self, y: f32, width: f32) {
        self.current
            .set_line_width(width)
            .move_to(MARGIN, y)
            .line_to(WIDTH - MARGIN, y)
            .stroke();
    }

    /// A light grey band behind a table row or heading.
    pub fn band(&mut self, y: f32, height: f32) {
        self.current
            .save_state()
            .set_fill_gray(0.93)
            .rect(MARGIN, y, WIDTH - 2.0 * MARGIN, height)
            .fill_nonzero()
            .restore_state();
    }

    pub fn new_page(&mut self) {
        let done = std::mem::replace(&mut self.current, Content::new());
        self.pages.push(done);
    }

    /// The finished file.
    pub fn finish(mut self) -> Vec<u8> {
        self.new_page();
        let mut pdf = Pdf::new();
        let (catalog, tree, regular, bold, info) = (
            Ref::new(1),
            Ref::new(2),
            Ref::new(3),
            Ref::new(4),
            Ref::new(5),
        );
        let mut next = 6;
        let mut alloc = || {
            next += 1;
            Ref::new(next - 1)
        };
        let count = self.pages.len();
        let ids: Vec<(Ref, Ref)> = (0..count).map(|_| (alloc(), alloc())).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(ids.iter().map(|(page, _)| *page))
            .count(count as i32);
        for (n, (mut content, (page_id, content_id))) in
            self.pages.into_iter().zip(ids.iter().copied()).enumerate()
        {
            let footer = format!("{}  ·  page {} of {count}", self.footer, n + 1);
            content
                .set_fill_gray(0.4)
                .begin_text()
                .set_font(REGULAR, 8.0)
                .next_line(MARGIN, 30.0)
                .show(Str(&win_ansi(&footer)))
                .end_text();
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
                .parent(tree)
                .contents(content_id);
            page.resources()
                .fonts()
                .pair(REGULAR, regular)
                .pair(BOLD, bold);
            page.finish();
            pdf.stream(content_id, &content.finish());
        }
        for (id, name) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
            pdf.type1_font(id)
                .base_font(Name(name.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr("PinPay"));
        pdf.finish()
    }
}

/// The text in Windows-1252, the encoding the standard fonts use here; characters it
/// lacks become `?`, control characters are dropped.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// The width of `s` in Helvetica at `size` points: exact for the digits, separators and
/// signs that amounts use, an average for other characters.
pub fn text_width(s: &str, size: f32) -> f32 {
    let units: u32 = s
        .chars()
        .map(|c| match c {
            '0'..='9' => 556,
            '.' | ',' | ' ' | ':' => 278,
            '-' => 333,
            '+' => 584,
            'E' => 667,
            'U' | 'R' => 722,
            'A'..='Z' => 690,
            _ => 520,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `s` cut to fit `width` at `size` points, with an ellipsis when cut.
pub fn fit(s: &str, width: f32, size: f32) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if text_width(&format!("{out}{c}…"), size) > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_for_the_standard_fonts() {
        assert_eq!(win_ansi("Müller € 5"), b"M\xfcller \x80 5".to_vec());
        assert_eq!(win_ansi("a\u{7}b✓"), b"ab?".to_vec());
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = fit(&"x".repeat(200), 100.0, 9.0);
        assert!(cut.ends_with('…') && text_width(&cut, 9.0) <= 100.0);
        assert_eq!(fit("short", 100.0, 9.0), "short");
    }
}
