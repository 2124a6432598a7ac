#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

Run once when a target is added (Debian's python3-torch and python3-pil):
    /usr/bin/python3 tests/fuzz/make_corpus.py
The files are committed; tools/fuzz.sh grows the corpus it fuzzes from in
build-fuzz/, and only inputs that found a bug go back into git (regressions/).
"""
import collections, gzip, io, os, pathlib, pickle, shutil, struct, zipfile

import torch
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent
SRC = ROOT.parent.parent
CORPUS = ROOT / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def saved(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def pickles():
    tiny = collections.OrderedDict(w=torch.zeros(2, 2), b=torch.ones(2))
    tiny._metadata = collections.OrderedDict({"": {"version": 1}})
    for name, obj in [("ordered_dict", tiny), ("plain_dict", dict(tiny)), ("list", [1, 2.5, "x", None, True])]:
        with zipfile.ZipFile(io.BytesIO(saved(obj))) as z:
            put("pickle", name + ".pkl", z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))
    for proto in (2, 4, 5):
        put("pickle", "proto%d.pkl" % proto, pickle.dumps({"a": [1, 2**70, b"bytes", bytearray(b"ba"), (1, 2), frozenset([3])]}, protocol=proto))


def weights():
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Linear(2, 2))
    put("weights", "state_dict.pt", saved(conv.state_dict()))
    put("weights", "plain_dict.pt", saved(dict(conv.state_dict())))
    put("weights", "other_keys.pt", saved({"x": torch.arange(4.0)}))
    put("weights", "not_a_dict.pt", saved([torch.zeros(1)]))
    # trex_checkpoint.pt beside them is a real checkpoint (best.pt of a 1-epoch seed_cnn run with
    # conv1_filters: 1, conv2_filters: 1, dense_units: 2 on opencv_digits), written by trex itself.


def yamls():
    for spec in sorted((SRC / "experiments").rglob("*.yaml")):
        text = spec.read_text()
        if len(text) < 4000:
            put("yaml", spec.stem + ".txt", "train.optimizer.lr=0.01\n" + text)
            put("spec", spec.stem + ".yaml", text)
            if "sweep:" in text:
                put("sweep", spec.stem + ".yaml", text)
    put("yaml", "flow.txt", "a.b.0=[1, {x: 'q\"uo'}]\n{k: [a, 'b c', \"d\\te\"], n: ~, t: !!str 12, f: .inf}\n")
    put("yaml", "anchors.txt", "x=&a [1, *a]\nbase: &b {p: 1}\nuse: *b\n")
    put("spec", "composite.yaml", "name: c\ndata: {type: opencv_digits}\nmodel:\n  backbone: {type: resnet18, cut: layer2, freeze: true}\n"
        "  head: [global_avg_pool, {type: dense, units: 8, activation: relu}, dense]\ntrain: {epochs: 1}\n")
    put("sweep", "grid.yaml", "method: grid\nparameters:\n  train.optimizer.lr: {type: choice, values: [0.1, 0.01]}\n"
        "  train.batch_size: {type: int_uniform, low: 16, high: 64}\n")
    put("sweep", "tpe.yaml", "method: tpe\ntrials: 8\nseeds: [1, 2]\nparameters:\n  train.optimizer.lr: {type: log_uniform, low: 1e-4, high: 1}\n"
        "pruner: {method: asha, min_epochs: 1}\n")


def queries():
    for i, (where, sort, cols) in enumerate([
            ("params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9 and status = completed", "-best.val_accuracy", "id,name,params.seed"),
            ("name like 'cifar%' or not (seed in (1, 2, 3))", "name,-start_time", "status,duration,main_best"),
            ("status != failed and params.model.type = 'seed_cnn' and last.val_loss is not null", "params.train.batch_size", "id"),
            ("((trial >= 0)) and sweep = \"s1\"", "", "best_epoch.val_accuracy,max.train_loss")]):
        put("query", "q%d.txt" % i, "\n".join([where, sort, cols]))


def dashboard():
    for i, req in enumerate(["\x00/api/runs\nwhere=status = completed\nsort=-best.val_accuracy\nlimit=10",
                             "\x00/api/runs/r1", "\x00/api/runs/r1/metrics", "\x00/api/compare\nids=r1,r1",
                             "\x00/files/runs/r1/report/a.png", "\x00/files/../secret.txt", "\x01/api/fields",
                             "\x00/api/sweeps", "\x02/api/runs", "\x00/assets/app.js", "\x00/"]):
        put("dashboard", "r%d.txt" % i, req)


def idx():
    def header(magic, dims):
        return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    put("idx", "images.idx", header(0x803, [2, 3, 3]) + bytes(range(18)))
    put("idx", "labels.idx", header(0x801, [5]) + bytes([0, 1, 2, 9, 3]))
    put("idx", "truncated.idx", header(0x803, [2, 3, 3]) + bytes(5))
    put("idx", "huge_header.idx", header(0x803, [60000, 28, 28]))


def cifar():
    rec10 = bytes([3]) + bytes(range(256)) * 12
    put("cifar", "cifar10.bin", rec10 * 2)
    put("cifar", "cifar100.bin", (bytes([4, 77]) + bytes(3072)) * 2)
    put("cifar", "names.txt", "airplane\r\nautomobile\n\nbird \ncat\n")


def images():
    img = Image.new("RGB", (7, 5), (10, 20, 30))
    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("WEBP", "webp"), ("PPM", "ppm"), ("TIFF", "tif")]:
        buf = io.BytesIO()
        img.save(buf, fmt)
        put("image_folder", "tiny." + ext, buf.getvalue())
    put("image_folder", "labels.csv", 'id,breed\nabc,beagle\n"q,1","pug"\nz,"say ""hi"""\n')
    put("image_folder", "missing_label.csv", "id,breed\nabc,\n")


if __name__ == "__main__":
    for d in CORPUS.glob("*"):
        for f in d.iterdir():
            if f.name != "trex_checkpoint.pt":
                f.unlink()
    for make in (pickles, weights, yamls, queries, dashboard, idx, cifar, images):
        make()
    for d in sorted(CORPUS.iterdir()):
        print(d.name, len(list(d.iterdir())), "files", sum(f.stat().st_size for f in d.iterdir()), "bytes")
