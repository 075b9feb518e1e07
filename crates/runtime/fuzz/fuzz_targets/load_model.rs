//! Model files from the outside: any bytes either load (and then run on zero inputs or refuse them) or are
//! refused with an error naming the problem; never a panic, never unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::ModelCid;

fuzz_target!(|data: &[u8]| {
    let _ = Runtime::inspect(data);
    let runtime = Runtime::new(RuntimeConfig {
        max_model_bytes: 1 << 20,
        cache_bytes: 8 << 20,
        max_work_per_inference: 1_000_000,
        threads: 1,
    });
    if let Ok(model) = runtime.load(&ModelCid::for_bytes(data), data) {
        let _ = runtime.run(&model, &[]);
    }
});
