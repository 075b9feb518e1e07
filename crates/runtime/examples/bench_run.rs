//! Times ogn-runtime on the fixture models: `bench_run FIXTURES_DIR ITERATIONS [THREADS] [MODEL...]`.
//!
//! For each model: load, one untimed run (plans for the input shapes are built and cached), then
//! ITERATIONS timed runs of `Runtime::run` on the fixture input. Prints one line per model:
//! `<model> <median ms> <min ms>`. Used by `bench/runtime-vs-ort`.

use std::path::PathBuf;
use std::time::Instant;

use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData};

// Allocation churn is part of tract's cost: every intermediate tensor is allocated per run. glibc's malloc
// returns large blocks to the kernel and faults them back in on every inference; mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: bench_run FIXTURES_DIR ITERATIONS [THREADS] [MODEL...]".into());
    }
    let dir = PathBuf::from(&args[1]);
    let iterations: usize = args[2].parse()?;
    let threads: usize = args.get(3).map(|t| t.parse()).transpose()?.unwrap_or(1);
    let models: Vec<String> = if args.len() > 4 {
        args[4..].to_vec()
    } else {
        let mut stems: Vec<String> = std::fs::read_dir(dir.join("reference"))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(String::from))
            .collect();
        stems.sort();
        stems
    };
    // Experiments only: `OGN_BENCH_KNOBS=NAME=VALUE,...` overrides tract knobs (ogn pins them to defaults).
    for kv in
        std::env::var("OGN_BENCH_KNOBS").unwrap_or_default().split(',').filter(|s| !s.is_empty())
    {
        let (name, value) = kv.split_once('=').ok_or("OGN_BENCH_KNOBS: NAME=VALUE")?;
        if !tract_onnx::tract_core::knobs::set_str(name, value) {
            return Err(format!("unknown tract knob {name}").into());
        }
        eprintln!("knob {name}={value}");
    }
    let rt = Runtime::new(RuntimeConfig { threads, ..Default::default() });
    eprintln!("engine {}", rt.engine_id());
    for stem in models {
        let bytes = std::fs::read(dir.join("models").join(format!("{stem}.onnx")))?;
        let model = rt.load(&ModelCid::for_bytes(&bytes), &bytes)?;
        let inputs = reference_inputs(&dir, &stem)?;
        rt.run(&model, &inputs)?;
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            let out = rt.run(&model, &inputs)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(out);
        }
        times.sort_by(f64::total_cmp);
        if std::env::var_os("OGN_BENCH_PROFILE").is_some() {
            for (op, t) in rt.profile(&model, &inputs)? {
                eprintln!("  {stem} {op:24} {:8.3} ms", t.as_secs_f64() * 1e3);
            }
        }
        println!("{stem} {:.3} {:.3}", times[times.len() / 2], times[0]);
    }
    Ok(())
}

fn reference_inputs(
    dir: &std::path::Path,
    stem: &str,
) -> Result<Vec<Tensor>, Box<dyn std::error::Error>> {
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(
        dir.join("reference").join(format!("{stem}.json")),
    )?)?;
    let mut inputs = vec![];
    for t in manifest["inputs"].as_array().ok_or("no inputs")? {
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .ok_or("no shape")?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim"))
            .collect::<Result<_, _>>()?;
        let raw = std::fs::read(dir.join("reference").join(t["file"].as_str().ok_or("no file")?))?;
        let data = TensorData::F32(
            raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        );
        inputs.push(Tensor::new(t["name"].as_str().ok_or("no name")?, shape, data)?);
    }
    Ok(inputs)
}
