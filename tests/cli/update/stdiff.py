# stdiff.py A B - the largest difference between two safetensors files of
# float32 tensors with the same names and shapes, relative to the largest
# magnitude of each tensor in A: prints "max-rel X" for the worst tensor.
import json
import struct
import sys
from array import array


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit("stdiff: %s: %s is %s, not F32" % (path, name, t["dtype"]))
        a, b = t["data_offsets"]
        v = array("f")
        v.frombytes(raw[base + a:base + b])
        if sys.byteorder != "little":
            v.byteswap()
        out[name] = v
    return out


A, B = load(sys.argv[1]), load(sys.argv[2])
if sorted(A) != sorted(B):
    sys.exit("stdiff: the tensor names differ")
worst = 0.0
for name, a in A.items():
    b = B[name]
    if len(a) != len(b):
        sys.exit("stdiff: %s: the sizes differ" % name)
    scale = max((abs(x) for x in a), default=0.0)
    d = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    rel = d / scale if scale > 0 else d
    worst = max(worst, rel)
print("max-rel %.3g" % worst)
