#!/usr/bin/env python3
"""Check a safetensors file with nothing but the standard library.

An independent reader for the files `prunebench export` writes (docs/export.md):
it parses the format from its definition (an 8-byte little-endian header
length N, N bytes of JSON header, then the data) without prunebench's code or
any safetensors library, checks the structure, and checks what it is told to
expect:

    check_safetensors.py FILE [--expect SIDECAR.json]
                              [--tensor NAME=DTYPE[D0,D1,...]] ...
                              [--value NAME[INDEX]=NUMBER] ...
                              [--metadata KEY=VALUE] ...

The structure: the header is a JSON object; "__metadata__", when present, maps
strings to strings; every other entry has a known dtype, a shape of
non-negative integers and data_offsets [begin, end] whose length is the
shape's size times the dtype's; the offsets tile the data section without
gaps or overlaps. In a file whose metadata format is "prunebench-dense", every
"<name>.mask" tensor is U8 with entries 0 and 1.

SIDECAR.json says what to expect:

    {"metadata": {"format": "prunebench-dense"},
     "tensors": {"fc1.weight": {"dtype": "F32", "shape": [300, 784],
                                "values": {"0": 0.0123, "17": -0.5}}},
     "exact": true}

"values" maps a flat (row-major) index to the value there; F32 values are
compared after rounding the expected number to float32, so a value printed
with enough digits matches exactly. With "exact" the file must hold no
tensor the sidecar does not list. The command-line flags add to the sidecar.

Prints "ok: FILE: N tensors, M bytes of data" and exits 0 when everything holds;
otherwise prints every problem found and exits 1.
"""
import argparse
import json
import re
import struct
import sys

# Element sizes and struct codes of the safetensors dtypes.
DTYPES = {
    "BOOL": (1, "?"), "U8": (1, "B"), "I8": (1, "b"),
    "F8_E5M2": (1, None), "F8_E4M3": (1, None),
    "I16": (2, "h"), "U16": (2, "H"), "F16": (2, "e"), "BF16": (2, None),
    "I32": (4, "i"), "U32": (4, "I"), "F32": (4, "f"),
    "I64": (8, "q"), "U64": (8, "Q"), "F64": (8, "d"),
}

MAX_HEADER = 100 << 20


class Problem(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Problem("header: %r appears twice" % k)
        seen[k] = v
    return seen


def read(path):
    """Returns (metadata, {name: (dtype, shape, bytes)}), or raises Problem."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise Problem("%d bytes, shorter than the header length" % len(data))
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > MAX_HEADER or n > len(data) - 8:
        raise Problem("header length %d does not fit a file of %d bytes" % (n, len(data)))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise Problem("header is not JSON: %s" % e)
    if not isinstance(header, dict):
        raise Problem("header is not a JSON object")
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise Problem("__metadata__ is not an object of strings")
    tensors, spans = {}, []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise Problem("tensor %s: entry %r, want dtype, shape and data_offsets" % (name, e))
        dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in DTYPES:
            raise Problem("tensor %s: unknown dtype %r" % (name, dtype))
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise Problem("tensor %s: shape %r" % (name, shape))
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise Problem("tensor %s: data_offsets %r" % (name, offsets))
        begin, end = offsets
        numel = 1
        for d in shape:
            numel *= d
        if not 0 <= begin <= end <= len(body):
            raise Problem("tensor %s: data_offsets %r outside the %d bytes of data" % (name, offsets, len(body)))
        if end - begin != numel * DTYPES[dtype][0]:
            raise Problem("tensor %s: %d bytes for %s of shape %r" % (name, end - begin, dtype, shape))
        spans.append((begin, end, name))
        tensors[name] = (dtype, shape, body[begin:end])
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise Problem("tensor %s: data starts at byte %d, want %d" % (name, begin, at))
        at = end
    if at != len(body):
        raise Problem("the tensors cover %d of the %d bytes of data" % (at, len(body)))
    return metadata, tensors


def value_at(tensor, index):
    dtype, shape, raw = tensor
    size, code = DTYPES[dtype]
    if code is None:
        raise Problem("cannot read values of dtype %s" % dtype)
    if not 0 <= index < len(raw) // size:
        raise Problem("index %d outside the %d entries" % (index, len(raw) // size))
    return struct.unpack_from("<" + code, raw, index * size)[0]


def as_stored(dtype, x):
    """The expected number as the dtype stores it."""
    if dtype == "F32":
        return struct.unpack("<f", struct.pack("<f", x))[0]
    if dtype == "F16":
        return struct.unpack("<e", struct.pack("<e", x))[0]
    return x


def check(path, expect):
    problems = []
    try:
        metadata, tensors = read(path)
    except (OSError, Problem) as e:
        return ["%s: %s" % (path, e)], 0
    for key, want in expect.get("metadata", {}).items():
        if metadata.get(key) != want:
            problems.append("metadata %s is %r, want %r" % (key, metadata.get(key), want))
    for name, want in expect.get("tensors", {}).items():
        if name not in tensors:
            problems.append("tensor %s is missing" % name)
            continue
        dtype, shape, _ = tensors[name]
        if "dtype" in want and dtype != want["dtype"]:
            problems.append("tensor %s has dtype %s, want %s" % (name, dtype, want["dtype"]))
            continue
        if "shape" in want and shape != want["shape"]:
            problems.append("tensor %s has shape %r, want %r" % (name, shape, want["shape"]))
            continue
        for index, x in want.get("values", {}).items():
            try:
                got = value_at(tensors[name], int(index))
            except Problem as e:
                problems.append("tensor %s: %s" % (name, e))
                continue
            if got != as_stored(dtype, x):
                problems.append("tensor %s: entry %s is %r, want %r" % (name, index, got, x))
    if metadata.get("format") == "prunebench-dense":
        for name, (dtype, shape, raw) in sorted(tensors.items()):
            if name.endswith(".mask") and (dtype != "U8" or any(b > 1 for b in raw)):
                problems.append("mask %s: want U8 entries 0 or 1" % name)
    if expect.get("exact"):
        for name in sorted(set(tensors) - set(expect.get("tensors", {}))):
            problems.append("tensor %s is not expected" % name)
    return problems, len(tensors)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--expect", help="a JSON sidecar of expected metadata, tensors and values")
    ap.add_argument("--tensor", action="append", default=[], help="NAME=DTYPE[D0,D1,...]")
    ap.add_argument("--value", action="append", default=[], help="NAME[INDEX]=NUMBER")
    ap.add_argument("--metadata", action="append", default=[], help="KEY=VALUE")
    args = ap.parse_args(argv)
    expect = {}
    if args.expect:
        with open(args.expect) as f:
            expect = json.load(f)
    tensors = expect.setdefault("tensors", {})
    for t in args.tensor:
        m = re.fullmatch(r"(.+)=([A-Z0-9_]+)\[([0-9, ]*)\]", t)
        if not m:
            ap.error("--tensor %r: want NAME=DTYPE[D0,D1,...]" % t)
        dims = [int(d) for d in m.group(3).split(",") if d.strip()]
        tensors.setdefault(m.group(1), {}).update(dtype=m.group(2), shape=dims)
    for v in args.value:
        m = re.fullmatch(r"(.+)\[([0-9]+)\]=(.+)", v)
        if not m:
            ap.error("--value %r: want NAME[INDEX]=NUMBER" % v)
        tensors.setdefault(m.group(1), {}).setdefault("values", {})[m.group(2)] = float(m.group(3))
    for kv in args.metadata:
        k, sep, val = kv.partition("=")
        if not sep:
            ap.error("--metadata %r: want KEY=VALUE" % kv)
        expect.setdefault("metadata", {})[k] = val
    problems, n = check(args.file, expect)
    if problems:
        for p in problems:
            print("check_safetensors: %s: %s" % (args.file, p) if not p.startswith(args.file) else "check_safetensors: " + p, file=sys.stderr)
        return 1
    size = sum(len(t[2]) for t in read(args.file)[1].values())
    print("ok: %s: %d tensors, %d bytes of data" % (args.file, n, size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
