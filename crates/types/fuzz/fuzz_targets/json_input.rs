//! User JSON input: any text either parses into valid tensors or is refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tensors) = ogn_types::json::parse_input(text) {
            for t in &tensors {
                t.validate().expect("parsed tensors hold product(shape) elements");
            }
            let _ = ogn_types::canonical::encode_tensors(&tensors);
        }
    }
});
