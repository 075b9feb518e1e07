//! Validation of the names that outside callers choose: model names, filenames, tags and free text.
//!
//! Model names and filenames end up in URL paths and (for filenames) on users' disks when they download a
//! version, so every rule here exists to keep a name from escaping its place: no `/`, no `\`, no `..`,
//! no NUL or other control characters, bounded length. Errors name the field and the rule that failed.

use std::fmt;

/// Longest model name, in bytes.
pub const MAX_MODEL_NAME_LEN: usize = 100;
/// Longest filename, in bytes.
pub const MAX_FILENAME_LEN: usize = 255;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 64;
/// Most tags on one model.
pub const MAX_TAGS: usize = 32;
/// Longest description or version notes, in bytes.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// Longest task or license string, in bytes.
pub const MAX_SHORT_TEXT_LEN: usize = 128;

/// A value chosen by a caller broke a naming rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value}: {reason}")]
pub struct InvalidName {
    /// Which field: `model name`, `filename`, `version`, `tag`, ….
    pub field: &'static str,
    /// The offending value, quoted and escaped, truncated to 80 characters.
    pub value: Shown,
    /// The rule it broke.
    pub reason: String,
}

impl InvalidName {
    pub(crate) fn new(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self { field, value: Shown::new(value), reason: reason.into() }
    }
}

/// A caller's value made safe to print in an error message (escaped, at most 80 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    fn new(value: &str) -> Self {
        let mut out: String = value.chars().take(80).collect::<String>().escape_debug().collect();
        if value.chars().count() > 80 {
            out.push('…');
        }
        Self(out)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// Rules every path-like name shares: non-empty, bounded, no separators, no `..`, no control characters.
fn check_path_safe(field: &'static str, value: &str, max_len: usize) -> Result<(), InvalidName> {
    let err = |reason: &str| Err(InvalidName::new(field, value, reason));
    if value.is_empty() {
        return err("must not be empty");
    }
    if value.len() > max_len {
        return err(&format!("longer than {max_len} bytes"));
    }
    if value.contains('/') || value.contains('\\') {
        return err("must not contain a path separator (`/` or `\\`)");
    }
    if value.contains("..") {
        return err("must not contain `..`");
    }
    if value.contains('\0') {
        return err("must not contain a NUL byte");
    }
    if value.chars().any(char::is_control) {
        return err("must not contain control characters");
    }
    if value == "." {
        return err("must not be `.`");
    }
    Ok(())
}

/// Checks a model (repository) name: 1 to [`MAX_MODEL_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_`
/// and `.`, starting with a letter or digit, without `..`.
pub fn validate_model_name(name: &str) -> Result<(), InvalidName> {
    const FIELD: &str = "model name";
    check_path_safe(FIELD, name, MAX_MODEL_NAME_LEN)?;
    if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(InvalidName::new(
            FIELD,
            name,
            format!("character {c:?} is not allowed (use ASCII letters, digits, `-`, `_`, `.`)"),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(InvalidName::new(FIELD, name, "must start with a letter or digit"));
    }
    Ok(())
}

/// Checks a filename inside a version: 1 to [`MAX_FILENAME_LEN`] bytes, no `/`, `\`, `..`, NUL, control
/// characters or `"`, and no leading or trailing whitespace. Other Unicode is allowed.
pub fn validate_filename(filename: &str) -> Result<(), InvalidName> {
    const FIELD: &str = "filename";
    check_path_safe(FIELD, filename, MAX_FILENAME_LEN)?;
    if filename.contains('"') {
        return Err(InvalidName::new(FIELD, filename, "must not contain `\"`"));
    }
    if filename.trim() != filename {
        return Err(InvalidName::new(FIELD, filename, "must not start or end with whitespace"));
    }
    Ok(())
}

/// Checks a tag: 1 to [`MAX_TAG_LEN`] bytes without control characters or surrounding whitespace.
pub fn validate_tag(tag: &str) -> Result<(), InvalidName> {
    validate_text("tag", tag, MAX_TAG_LEN)?;
    if tag.trim().is_empty() || tag.trim() != tag {
        return Err(InvalidName::new(
            "tag",
            tag,
            "must be non-empty without surrounding whitespace",
        ));
    }
    Ok(())
}

/// Checks a free-text field (description, notes, task, license): at most `max_len` bytes, no control
/// characters other than newline and tab.
pub fn validate_text(field: &'static str, text: &str, max_len: usize) -> Result<(), InvalidName> {
    if text.len() > max_len {
        return Err(InvalidName::new(field, text, format!("longer than {max_len} bytes")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(InvalidName::new(field, text, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn model_names() {
        for ok in ["a", "og-1hr-volatility-ethusdt", "ResNet_50.v2", "9"] {
            validate_model_name(ok).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("..", "`..`"),
            ("a/b", "separator"),
            ("a\\b", "separator"),
            ("../etc", "separator"),
            ("a..b", "`..`"),
            ("a\0b", "NUL"),
            ("a b", "not allowed"),
            (".hidden", "start with"),
            ("-x", "start with"),
        ] {
            let err = validate_model_name(bad).unwrap_err();
            assert_eq!(err.field, "model name");
            assert!(err.to_string().contains(why), "{bad:?}: {err}");
        }
        assert!(validate_model_name(&"a".repeat(MAX_MODEL_NAME_LEN)).is_ok());
        assert!(validate_model_name(&"a".repeat(MAX_MODEL_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn filenames() {
        for ok in ["model.onnx", "weights (1).bin", "модель.onnx", ".config"] {
            validate_filename(ok).unwrap();
        }
        for bad in ["", ".", "..", "../x", "a/b", "C:\\x", "a\nb", "x\0", " x", "a\"b", "a..b"] {
            let err = validate_filename(bad).unwrap_err();
            assert_eq!(err.field, "filename");
            assert!(err.to_string().starts_with("invalid filename"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn accepted_model_names_are_path_safe(name in "\\PC{0,120}") {
            if validate_model_name(&name).is_ok() {
                prop_assert!(!name.is_empty() && name.len() <= MAX_MODEL_NAME_LEN);
                prop_assert!(!name.contains('/') && !name.contains('\\') && !name.contains(".."));
                prop_assert!(name.bytes().all(|b| b.is_ascii_graphic()));
            }
        }

        #[test]
        fn accepted_filenames_are_path_safe(name in any::<String>()) {
            if validate_filename(&name).is_ok() {
                prop_assert!(!name.contains('/') && !name.contains('\\') && !name.contains(".."));
                prop_assert!(!name.chars().any(char::is_control));
                prop_assert!(name != "." && !name.is_empty() && name.len() <= MAX_FILENAME_LEN);
            }
        }

        #[test]
        fn generated_valid_names_pass(name in "[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}") {
            prop_assert!(validate_model_name(&name).is_ok());
            prop_assert!(validate_filename(&name).is_ok());
        }
    }
}
