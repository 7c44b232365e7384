# Regenerates legacy_quants_golden.txt with gguf-py's numpy quantisers, which are bit-exact ports of
# ggml's quantize_row_q8_0_ref / q4_0_ref / q4_1_ref:  PYTHONPATH=<gguf-py> python3 make_legacy_golden.py
import numpy as np
from gguf import quants, GGMLQuantizationType as T

rng = np.random.default_rng(20261128)
blocks = []
for scale in [1e-3, 0.02, 1.0, 37.0, 1e4]:
    blocks.append(rng.standard_normal(32 * 8) * scale)
blocks.append(np.zeros(32))                                   # d = 0
one = np.zeros(32); one[5] = -3.0; blocks.append(one)         # single value, negative signed max
ties = np.array([(j - 16) * 0.5 for j in range(32)]); blocks.append(ties)
halfs = np.array([(j % 8 - 4) + 0.5 for j in range(32)]) * (127 / 3.5); blocks.append(halfs)  # .5 ties for roundf
eq = np.full(32, 2.5); blocks.append(eq)                      # max == min for Q4_1
mixed = rng.standard_normal(32 * 4) * np.repeat([1e-4, 1e3, 1.0, 65000.0], 32); blocks.append(mixed)
x = np.concatenate(blocks).astype(np.float32)
assert x.size % 32 == 0
with open("legacy_quants_golden.txt", "w") as f:
    f.write("# floats (f32 bits, hex) then the expected ggml bytes per type, one line each\n")
    f.write("F32 " + x.view(np.uint32).tobytes().hex() + "\n")
    for t in (T.Q8_0, T.Q4_0, T.Q4_1):
        q = quants.quantize(x.reshape(1, -1), t)
        f.write(t.name + " " + q.tobytes().hex() + "\n")
