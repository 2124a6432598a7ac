"""Writes a class-folder JPEG dataset for tools/bench/transfer.sh: N images of
200-500 px a side (or MIN-MAX; random aspect), smooth random colour fields,
10 classes.

usage: transfer_images.py ROOT N [MIN MAX]"""
import os
import sys

import numpy as np
from PIL import Image

root, count = sys.argv[1], int(sys.argv[2])
low, high = (int(v) for v in sys.argv[3:5]) if len(sys.argv) > 4 else (200, 500)
rng = np.random.default_rng(0)
for i in range(count):
    w, h = (int(v) for v in rng.integers(low, high + 1, size=2))
    small = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((w, h), Image.BILINEAR)
    folder = os.path.join(root, f"class{i % 10}")
    os.makedirs(folder, exist_ok=True)
    image.save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)
