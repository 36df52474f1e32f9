//! Rated toner yields: the A4 pages one cartridge prints at 5 % coverage of
//! its colour (ISO/IEC 19798), per model and toner colour, read from data
//! files (`mibs/yields/*.toml`, compiled in, and the `yields/` folder of
//! `[profiles] dir`).
//!
//! Pure: parses file texts; every error names the file, the line and the key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The yields shipped in `mibs/yields/`, compiled in.
pub const BUILT_IN: [(&str, &str); 1] = [(
    "built-in:yields/konica-minolta-bizhub.toml",
    include_str!("../../mibs/yields/konica-minolta-bizhub.toml"),
)];

/// The toner colours a yield is given for.
pub const COLOURS: [&str; 4] = ["black", "cyan", "magenta", "yellow"];

/// One toner's rated yield.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TonerYield {
    /// The part number (`TN-328K`).
    pub part: String,
    /// black, cyan, magenta or yellow.
    pub colour: String,
    /// A4 pages at 5 % coverage of its colour.
    pub pages: u32,
    /// Where the figure comes from.
    pub source: String,
    /// The file it was read from.
    pub file: String,
}

/// A yields file is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YieldError {
    pub file: String,
    /// 1-based; 0 when the error is the file's as a whole.
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for YieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "yields {}", self.file)?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        write!(f, ": {}: {}", self.key, self.message)
    }
}

/// The yields of every model, by (model as compared, colour).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Yields {
    by_model: BTreeMap<(String, String), TonerYield>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    toner: Vec<Spanned<RawToner>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToner {
    models: Spanned<Vec<String>>,
    part: Spanned<String>,
    colour: Spanned<String>,
    pages: Spanned<toml::Value>,
    source: Spanned<String>,
}

impl Yields {
    /// The built-in yields.
    pub fn built_in() -> Yields {
        Yields::from_files(&[]).expect("the built-in yields files are valid")
    }

    /// The built-in yields with `files` (name, text) over them, in order: a
    /// model and colour in a file replaces the built-in one; named twice
    /// among `files` (or within the built-in ones), it is an error.
    pub fn from_files(files: &[(String, String)]) -> Result<Yields, YieldError> {
        let mut built_in = Yields::default();
        for (name, text) in BUILT_IN {
            built_in.add(&parse(name, text)?, name)?;
        }
        let mut added = Yields::default();
        for (name, text) in files {
            added.add(&parse(name, text)?, name)?;
        }
        built_in.by_model.extend(added.by_model);
        Ok(built_in)
    }

    fn add(&mut self, found: &[(String, usize, TonerYield)], file: &str) -> Result<(), YieldError> {
        for (model, line, toner) in found {
            let key = (model_key(model), toner.colour.clone());
            if let Some(first) = self.by_model.get(&key) {
                return Err(YieldError {
                    file: file.to_owned(),
                    line: *line,
                    key: "toner.models".into(),
                    message: format!(
                        "the {} toner of `{model}` has a yield already ({}, in {})",
                        toner.colour, first.part, first.file
                    ),
                });
            }
            self.by_model.insert(key, toner.clone());
        }
        Ok(())
    }

    /// The rated yield of `model`'s `colour` toner, if known. Models are
    /// compared without case, runs of spaces and a "KONICA MINOLTA " prefix.
    pub fn find(&self, model: &str, colour: &str) -> Option<&TonerYield> {
        self.by_model.get(&(model_key(model), colour.to_owned()))
    }

    /// How many model-and-colour yields are known.
    pub fn len(&self) -> usize {
        self.by_model.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }
}

/// A model name as compared: lower case, single spaces, no vendor prefix.
fn model_key(model: &str) -> String {
    let words: Vec<String> = model.split_whitespace().map(str::to_lowercase).collect();
    let words = match words.as_slice() {
        [konica, minolta, rest @ ..] if konica == "konica" && minolta == "minolta" => rest,
        all => all,
    };
    words.join(" ")
}

fn line_of(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before.iter().filter(|b| **b == b'\n').count() + 1
}

/// The yields of one file: (model, line, yield) for each model of each toner.
fn parse(file: &str, text: &str) -> Result<Vec<(String, usize, TonerYield)>, YieldError> {
    let at = |offset: usize, key: &str, message: String| YieldError {
        file: file.to_owned(),
        line: line_of(text, offset),
        key: key.to_owned(),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, "(file)", e.message().to_owned())
    })?;
    let mut out = Vec::new();
    for toner in &raw.toner {
        let start = toner.span().start;
        let t = toner.get_ref();
        let colour = t.colour.get_ref().trim().to_lowercase();
        if !COLOURS.contains(&colour.as_str()) {
            return Err(at(
                t.colour.span().start,
                "toner.colour",
                format!(
                    "`{}` is no toner colour: use black, cyan, magenta or yellow",
                    t.colour.get_ref()
                ),
            ));
        }
        let pages = match t.pages.get_ref() {
            toml::Value::Integer(n) if *n > 0 => u32::try_from(*n).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            at(
                t.pages.span().start,
                "toner.pages",
                format!(
                    "{} is not a yield: give the pages one cartridge prints as a positive whole number (e.g. 28000)",
                    t.pages.get_ref()
                ),
            )
        })?;
        for (key, value) in [("toner.part", &t.part), ("toner.source", &t.source)] {
            if value.get_ref().trim().is_empty() {
                return Err(at(
                    value.span().start,
                    key,
                    "is empty: every yield names its part and where the figure comes from".into(),
                ));
            }
        }
        if t.models.get_ref().is_empty() {
            return Err(at(
                t.models.span().start,
                "toner.models",
                "names no model".into(),
            ));
        }
        let toner_yield = TonerYield {
            part: t.part.get_ref().trim().to_owned(),
            colour,
            pages,
            source: t.source.get_ref().trim().to_owned(),
            file: file.to_owned(),
        };
        for model in t.models.get_ref() {
            if model_key(model).is_empty() {
                return Err(at(
                    t.models.span().start,
                    "toner.models",
                    "a model name is empty".into(),
                ));
            }
            out.push((model.clone(), line_of(text, start), toner_yield.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(pages: &str) -> String {
        format!(
            "[[toner]]\nmodels = [\"bizhub C450i\"]\npart = \"TN-626K\"\ncolour = \"black\"\npages = {pages}\nsource = \"our datasheet\"\n"
        )
    }

    #[test]
    fn built_in_yields_cover_the_sourced_models() {
        let y = Yields::built_in();
        for model in ["bizhub C250i", "bizhub C300i", "bizhub C360i"] {
            for colour in COLOURS {
                assert_eq!(y.find(model, colour).unwrap().pages, 28_000, "{model}");
            }
        }
        let c4050 = y.find("KONICA MINOLTA  bizhub C4050i", "black").unwrap();
        assert_eq!((c4050.part.as_str(), c4050.pages), ("TNP-79K", 13_000));
        assert_eq!(y.find("bizhub c3350i", "cyan").unwrap().pages, 9_000);
        // Left out: no source we could check.
        assert!(y.find("bizhub 4750i", "black").is_none());
        assert!(y.find("bizhub C450i", "black").is_none());
        assert!(y.len() == 20);
        for t in y.by_model.values() {
            assert!(!t.source.is_empty());
        }
    }

    #[test]
    fn a_file_adds_and_replaces_yields() {
        let y = Yields::from_files(&[("mine.toml".into(), one("45000"))]).unwrap();
        assert_eq!(y.find("bizhub C450i", "black").unwrap().pages, 45_000);
        let replace = "[[toner]]\nmodels = [\"bizhub C300i\"]\npart = \"TN-328K\"\ncolour = \"black\"\npages = 27000\nsource = \"x\"\n";
        let y = Yields::from_files(&[("mine.toml".into(), replace.into())]).unwrap();
        assert_eq!(y.find("bizhub C300i", "black").unwrap().pages, 27_000);
        assert_eq!(y.find("bizhub C250i", "black").unwrap().pages, 28_000);
    }

    #[test]
    fn a_yield_that_is_not_a_positive_whole_number_is_named() {
        for bad in ["0", "-5", "28000.5", "\"lots\"", "5000000000"] {
            let e = Yields::from_files(&[("mine.toml".into(), one(bad))]).unwrap_err();
            assert_eq!(
                (e.file.as_str(), e.line, e.key.as_str()),
                ("mine.toml", 5, "toner.pages"),
                "{bad}"
            );
            assert!(e.to_string().contains("positive whole number"), "{e}");
        }
        let e = Yields::from_files(&[("mine.toml".into(), one("1").replace("black", "blue"))])
            .unwrap_err();
        assert_eq!(e.key, "toner.colour");
        let e = Yields::from_files(&[("mine.toml".into(), format!("{}\n{}", one("1"), one("2")))])
            .unwrap_err();
        assert!(e.message.contains("has a yield already"), "{e}");
        assert_eq!(e.line, 8);
        let e = Yields::from_files(&[("mine.toml".into(), one("1").replace("pages", "page"))])
            .unwrap_err();
        assert_eq!(e.key, "(file)");
        assert!(e.to_string().contains("page"), "{e}");
    }
}
