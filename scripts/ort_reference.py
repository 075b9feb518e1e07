#!/usr/bin/env python3
"""Write a fixed input and onnxruntime's outputs for every fixture model.

    python3 scripts/ort_reference.py MODELS_DIR REFERENCE_DIR

For each model <m> this writes REFERENCE_DIR/<m>.json:

    {"model": "<m>.onnx", "onnxruntime": "1.31.1", "threads": 1,
     "inputs":  [{"name": ..., "dtype": "f32", "shape": [...], "file": "<m>.in0.bin"}],
     "outputs": [{"name": ..., "dtype": "f32", "shape": [...], "file": "<m>.out0.bin"}]}

and the tensors as raw little-endian files beside it. Inputs are deterministic (synthetic page images
for the OCR models, seeded noise for the small models); onnxruntime runs on one thread with its
default graph optimizations, CPU execution provider. Running twice writes identical files.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

# model file stem -> list of (input name, shape); the OCR sizes are those rapidocr feeds.
MODELS = {
    "mlp": [("input", (2, 784))],
    "lenet": [("input", (2, 1, 28, 28))],
    "mlp_int8": [("input", (2, 784))],
    "lenet_int8": [("input", (2, 1, 28, 28))],
    "ch_ppocr_mobile_v2.0_cls_infer": [("x", (1, 3, 48, 192))],
    "ch_PP-OCRv4_det_infer": [("x", (1, 3, 640, 640))],
    "ch_PP-OCRv4_rec_infer": [("x", (1, 3, 48, 320))],
}

DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.int64): "i64", np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8"}


# A 5x7 bitmap font, enough letters for the synthetic pages (rows top to bottom, 1 = ink).
FONT = {
    "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    "C": ["01111", "10000", "10000", "10000", "10000", "10000", "01111"],
    "D": ["11110", "10001", "10001", "10001", "10001", "10001", "11110"],
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    "G": ["01111", "10000", "10000", "10111", "10001", "10001", "01111"],
    "H": ["10001", "10001", "10001", "11111", "10001", "10001", "10001"],
    "I": ["11111", "00100", "00100", "00100", "00100", "00100", "11111"],
    "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
    "N": ["10001", "11001", "10101", "10011", "10001", "10001", "10001"],
    "O": ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    "P": ["11110", "10001", "10001", "11110", "10000", "10000", "10000"],
    "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
    "S": ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
    "V": ["10001", "10001", "10001", "10001", "10001", "01010", "00100"],
    "0": ["01110", "10011", "10101", "10101", "10101", "11001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    " ": ["00000"] * 7,
}
LINES = ["OPEN GRAPH 2024", "VERIDIAN LEDGER", "TRACT ON 0 1 2", "HELLO SOLID GOLD", "NODES AND TENSORS"]


def render(img, text, top, left, scale, ink):
    x = left
    for ch in text:
        glyph = FONT[ch]
        for r, row in enumerate(glyph):
            for c, bit in enumerate(row):
                if bit == "1":
                    y0, x0 = top + r * scale, x + c * scale
                    img[y0 : y0 + scale, x0 : x0 + scale, :] = ink
        x += 6 * scale
        if x + 6 * scale > img.shape[1]:
            break


def page(height, width, seed):
    """A synthetic RGB page, uint8: light, slightly noisy background with lines of dark block letters."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 225, dtype=np.uint8)
    img += rng.integers(0, 25, size=img.shape, dtype=np.uint8)
    if height <= 64:  # a single text line, as the recognizer and the classifier see it
        scale = max(1, (height - 8) // 7)
        render(img, LINES[seed % len(LINES)], (height - 7 * scale) // 2, 4, scale, 30)
        return img
    scale = max(2, height // 120)
    top = 4 * scale
    i = 0
    while top + 7 * scale < height:
        render(img, LINES[i % len(LINES)], top, 6 * scale + (i % 3) * 9 * scale, scale, 20 + 10 * (i % 4))
        top += 16 * scale
        i += 1
    return img


def fixed_input(stem, shape):
    if stem.startswith("ch_"):
        _, c, h, w = shape
        img = page(h, w, seed=hash_seed(stem)).astype(np.float32) / 255.0
        if "det" in stem:
            mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
            std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
            img = (img - mean) / std
        else:
            img = (img - 0.5) / 0.5
        return np.ascontiguousarray(img.transpose(2, 0, 1)[None, ...].astype(np.float32))
    # an int8 model gets the same input as its float original
    rng = np.random.default_rng(hash_seed(stem.removesuffix("_int8")))
    return rng.random(shape, dtype=np.float32)


def hash_seed(text):
    # stable across Python runs (str hash is salted)
    return int.from_bytes(text.encode(), "little") % (2**63)


def main():
    models_dir = Path(sys.argv[1])
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    for stem, inputs in MODELS.items():
        path = models_dir / f"{stem}.onnx"
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {name: fixed_input(stem, shape) for name, shape in inputs}
        names = [o.name for o in sess.get_outputs()]
        outs = sess.run(names, feed)
        manifest = {
            "model": path.name,
            "onnxruntime": ort.__version__,
            "threads": 1,
            "inputs": [],
            "outputs": [],
        }
        for kind, items in (("in", feed.items()), ("out", zip(names, outs))):
            for i, (name, arr) in enumerate(items):
                arr = np.ascontiguousarray(arr)
                file = f"{stem}.{kind}{i}.bin"
                arr.astype(arr.dtype.newbyteorder("<")).tofile(out_dir / file)
                manifest["inputs" if kind == "in" else "outputs"].append(
                    {"name": name, "dtype": DTYPES[arr.dtype], "shape": list(arr.shape), "file": file}
                )
        (out_dir / f"{stem}.json").write_text(json.dumps(manifest, indent=1) + "\n")
        print(f"ort_reference: {stem}: outputs {[list(o.shape) for o in outs]}", file=sys.stderr)


if __name__ == "__main__":
    main()
