#!/usr/bin/env python3
"""A site's own trainer for `agora fed join --command` (no dependencies).

Logistic regression by minibatch SGD on the site's CSV files (header-free,
features then a 0/1 label in the last column). Reads the global weights
from $AGORA_FED_IN (safetensors, F64 tensor `weights`, metadata `local`),
writes the updated weights to $AGORA_FED_OUT (safetensors, metadata
`samples`), or with AGORA_FED_MODE=evaluate, {"n": .., "metric": ..}.

Usage: byo_logreg.py TRAIN.csv TEST.csv
"""
import json, math, os, random, struct, sys


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    t = header["weights"]
    assert t["dtype"] == "F64", t["dtype"]
    a, b = t["data_offsets"]
    data = raw[8 + n + a:8 + n + b]
    return list(struct.unpack("<%dd" % (len(data) // 8), data)), meta


def write_safetensors(path, weights, meta):
    data = struct.pack("<%dd" % len(weights), *weights)
    header = {"__metadata__": meta, "weights": {"dtype": "F64", "shape": [len(weights)], "data_offsets": [0, len(data)]}}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
    os.replace(path + ".tmp", path)


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                v = [float(x) for x in line.split(",")]
                rows.append((v[:-1], v[-1]))
    return rows


def predict(w, x):
    z = w[-1] + sum(a * b for a, b in zip(w, x))
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def main():
    train, test = load(sys.argv[1]), load(sys.argv[2])
    w, meta = read_safetensors(os.environ["AGORA_FED_IN"])
    out = os.environ["AGORA_FED_OUT"]
    if os.environ["AGORA_FED_MODE"] == "evaluate":
        ok = sum((predict(w, x) >= 0.5) == (y > 0.5) for x, y in test)
        with open(out, "w") as f:
            json.dump({"n": len(test), "metric": ok / max(len(test), 1)}, f)
        return
    local = json.loads(meta["local"])
    g0 = list(w)
    rng = random.Random(len(train))
    for _ in range(local["steps"]):
        batch = [rng.choice(train) for _ in range(local["batch"])]
        grad = [0.0] * len(w)
        for x, y in batch:
            e = (predict(w, x) - y) / len(batch)
            for j, v in enumerate(x):
                grad[j] += e * v
            grad[-1] += e
        mu = local.get("prox_mu", 0.0)
        w = [wi - local["lr"] * (gi + mu * (wi - g0i)) for wi, gi, g0i in zip(w, grad, g0)]
    write_safetensors(out, w, {"samples": str(len(train))})


if __name__ == "__main__":
    main()
