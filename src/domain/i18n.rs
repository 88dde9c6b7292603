//! The pages' languages: English, German, French and Hebrew (right to left),
//! chosen by `?lang=`, then `Accept-Language`, falling back to English; amounts and
//! dates formatted for the language.

use crate::domain::money::Money;
use chrono::{DateTime, Datelike, Timelike, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
    He,
}

pub const ALL: [Lang; 4] = [Lang::En, Lang::De, Lang::Fr, Lang::He];

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
            Self::He => "he",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            "fr" => Some(Self::Fr),
            "he" | "iw" => Some(Self::He),
            _ => None,
        }
    }

    /// `?lang=` if it names a language we have, else the best of `Accept-Language`
    /// (by q-value, then order), else English.
    pub fn pick(query: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(l) = query.and_then(Self::from_code) {
            return l;
        }
        let mut best: Option<(f32, usize, Self)> = None;
        for (i, part) in accept_language.unwrap_or("").split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Self::from_code(tag).filter(|_| q > 0.0) {
                if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                    best = Some((q, i, lang));
                }
            }
        }
        best.map_or(Self::En, |(_, _, l)| l)
    }

    pub fn dir(self) -> &'static str {
        match self {
            Self::He => "rtl",
            _ => "ltr",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::De => "Deutsch",
            Self::Fr => "Français",
            Self::He => "עברית",
        }
    }

    pub fn t(self) -> Tr {
        Tr(self)
    }

    fn id(self) -> fluent_templates::LanguageIdentifier {
        self.code()
            .parse()
            .expect("a language code is a language identifier")
    }

    /// An amount with its currency as the language writes it: `€1,234.50`,
    /// `1.234,50 €`, `1 234,50 €`, `1,234.50 €`.
    pub fn money(self, amount: &str, currency: &str) -> String {
        if let Some(positive) = amount.strip_prefix('-') {
            return format!("-{}", self.money(positive, currency));
        }
        let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
        let (group, decimal) = match self {
            Self::En | Self::He => (",", "."),
            Self::De => (".", ","),
            Self::Fr => ("\u{202f}", ","),
        };
        let digits: Vec<char> = int.chars().collect();
        let mut grouped = String::new();
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) && d.is_ascii_digit() {
                grouped.push_str(group);
            }
            grouped.push(*d);
        }
        let number = if frac.is_empty() {
            grouped
        } else {
            format!("{grouped}{decimal}{frac}")
        };
        let symbol = match currency {
            "EUR" => "€",
            "USD" => "$",
            "GBP" => "£",
            other => other,
        };
        match self {
            Self::En => format!("{symbol}{number}"),
            _ => format!("{number}\u{a0}{symbol}"),
        }
    }

    pub fn eur(self, m: Money) -> String {
        self.money(&m.to_string(), "EUR")
    }

    /// A point in time in `tz`, as the language writes it.
    pub fn datetime(self, t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        let l = t.with_timezone(&tz);
        let month = self.t().get(&format!("month-{}", l.month()));
        let (d, y, h, m) = (l.day(), l.year(), l.hour(), l.minute());
        let zone = l.format("%Z");
        match self {
            Self::En => format!("{d} {month} {y}, {h:02}:{m:02} {zone}"),
            Self::De => format!("{d}. {month} {y}, {h:02}:{m:02} {zone}"),
            Self::Fr => format!("{d} {month} {y} à {h:02}:{m:02} {zone}"),
            Self::He => format!("{d} ב{month} {y}, {h:02}:{m:02} {zone}"),
        }
    }
}

/// The message catalogues (`locales/{lang}/*.ftl`, Fluent syntax), compiled in.
/// Placeables are not wrapped in Unicode isolation marks: pages isolate names, amounts
/// and dates with `<bdi>`, and mail bodies are plain text.
mod catalogue {
    fluent_templates::static_loader! {
        pub static LOCALES = {
            locales: "./locales",
            fallback_language: "en",
            customise: |bundle| bundle.set_use_isolating(false),
        };
    }
}

/// The texts of one language: `t.get("pay-here")`, `t.with("pay-button", &[("amount", a)])`.
/// A message missing in the language falls back to English (a test keeps every
/// catalogue complete).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tr(Lang);

impl Tr {
    pub fn lang(self) -> Lang {
        self.0
    }

    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// The message `id` with its variables (`{ $name }`) filled from `args`.
    pub fn with(&self, id: &str, args: &[(&str, &str)]) -> String {
        use fluent_templates::fluent_bundle::FluentValue;
        use fluent_templates::Loader;
        // In a right-to-left language each value is isolated (FSI … PDI): "@anna" or
        // "€12.50" inside Hebrew text keeps its own order instead of reading "anna@".
        let isolate = self.0.dir() == "rtl";
        let args: std::collections::HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| {
                let v = if isolate {
                    format!("\u{2068}{v}\u{2069}")
                } else {
                    v.to_string()
                };
                (std::borrow::Cow::Owned(k.to_string()), FluentValue::from(v))
            })
            .collect();
        catalogue::LOCALES.lookup_complete(&self.0.id(), id, Some(&args))
    }

    /// Whether the language's own catalogue has `id` (no fallback).
    pub fn has(&self, id: &str) -> bool {
        // Formatting without the message's variables fails ("Fluent errors"); only a
        // missing message counts (the crate does not export its error type).
        match catalogue::LOCALES.lookup_single_language::<&str>(&self.0.id(), id, None) {
            Ok(_) => true,
            Err(e) => e.to_string().starts_with("Fluent errors"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_query_then_accept_language_then_english() {
        assert_eq!(Lang::pick(Some("he"), Some("de")), Lang::He);
        assert_eq!(Lang::pick(Some("xx"), Some("fr-CH, de;q=0.5")), Lang::Fr);
        assert_eq!(Lang::pick(None, Some("es, de;q=0.8, fr;q=0.9")), Lang::Fr);
        assert_eq!(Lang::pick(None, Some("es")), Lang::En);
        assert_eq!(Lang::pick(None, None), Lang::En);
    }

    #[test]
    fn amounts_as_each_language_writes_them() {
        assert_eq!(Lang::En.money("1234.50", "EUR"), "€1,234.50");
        assert_eq!(Lang::De.money("1234.50", "EUR"), "1.234,50\u{a0}€");
        assert_eq!(
            Lang::Fr.money("1234567.00", "EUR"),
            "1\u{202f}234\u{202f}567,00\u{a0}€"
        );
        assert_eq!(Lang::He.money("12.00", "USD"), "12.00\u{a0}$");
    }

    /// Every message id of a catalogue file, in order.
    fn ids(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_string()))
            .collect()
    }

    #[test]
    fn every_language_has_every_message_of_english() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let files: Vec<_> = std::fs::read_dir(root.join("en"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(!files.is_empty(), "catalogues: {files:?}");
        for file in files {
            let english = ids(&root.join("en").join(&file));
            assert!(!english.is_empty());
            for lang in ALL {
                let theirs = ids(&root.join(lang.code()).join(&file));
                assert_eq!(theirs, english, "{} {file:?}", lang.code());
                for id in &english {
                    assert!(lang.t().has(id), "{} lacks {id}", lang.code());
                }
            }
        }
    }

    /// Every `t.get("…")` / `t.with("…"` in the code and templates names a message.
    #[test]
    fn every_message_the_code_asks_for_exists() {
        let mut asked = Vec::new();
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for marker in ["t.get(\"", "t.with(\""] {
                    for piece in text.split(marker).skip(1) {
                        let id = piece.split('"').next().unwrap_or_default();
                        if !id.is_empty() && !id.contains('{') && id != "…" {
                            asked.push((path.display().to_string(), id.to_string()));
                        }
                    }
                }
            }
        }
        assert!(asked.len() > 50, "found only {} uses", asked.len());
        for (file, id) in asked {
            for lang in ALL {
                assert!(lang.t().has(&id), "{file}: {id} missing in {}", lang.code());
            }
        }
    }

    #[test]
    fn messages_fill_their_variables() {
        let t = Lang::De.t();
        assert_eq!(
            t.with("pay-button", &[("amount", "12,50 €")]),
            "12,50 € bezahlen"
        );
        assert_eq!(Lang::En.t().get("month-3"), "March");
        assert_eq!(
            Lang::He.t().with("addressed-to", &[("user", "@anna")]),
            "הבקשה הזו מיועדת ל-\u{2068}@anna\u{2069}."
        );
        assert_eq!(Lang::En.money("-5.00", "EUR"), "-€5.00");
        assert_eq!(Lang::De.money("-1234.50", "EUR"), "-1.234,50\u{a0}€");
    }
}
