//! Model names, filenames and version strings: no accepted value can escape its directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_hub::{
    Version,
    names::{validate_filename, validate_model_name},
};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for ok in [validate_model_name(s).is_ok(), validate_filename(s).is_ok()] {
        if ok {
            assert!(!s.is_empty() && !s.contains('/') && !s.contains('\\') && !s.contains(".."));
            assert!(!s.chars().any(char::is_control));
        }
    }
    if let Ok(v) = s.parse::<Version>() {
        assert_eq!(v.to_string(), s, "only canonical version strings parse");
    }
});
