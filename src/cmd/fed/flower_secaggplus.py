"""One SecAgg+ round with Flower's own code, timed the way `agora bench fed`
times Agora's: every site's stage computation is Flower's client mod
(`flwr.client.mod.secure_aggregation.secaggplus_mod`: _setup, _share_keys,
_collect_masked_vectors, _unmask), the coordinator's is the computation of
Flower's `SecAggPlusWorkflow` (routing, summing masked vectors with
parameters_addition, combine_shares, pseudo_rand_gen, dequantize), called
in-process: no gRPC, no Ray, no serialization of Flower's messages (that
would only add to Flower's time).

round_s = sum over the 4 stages of (coordinator time + slowest site's time),
i.e. the round's latency when every site has its own machine.
Prints one JSON object.
"""
import argparse, json, random, sys, time

import numpy as np
from flwr.client.mod.secure_aggregation.secaggplus_mod import (
    SecAggPlusState, _setup, _share_keys, _collect_masked_vectors, _unmask)
from flwr.common import ndarrays_to_parameters
from flwr.common.secure_aggregation.crypto.shamir import combine_shares
from flwr.common.secure_aggregation.crypto.symmetric_encryption import generate_shared_key
from flwr.supercore.primitives.asymmetric import bytes_to_private_key, bytes_to_public_key
from flwr.common.secure_aggregation.ndarrays_arithmetic import (
    factor_extract, get_parameters_shape, parameters_addition, parameters_mod, parameters_subtraction)
from flwr.common.secure_aggregation.quantization import dequantize
from flwr.common.secure_aggregation.secaggplus_constants import Key
from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen
from flwr.common import bytes_to_ndarray

p = argparse.ArgumentParser()
p.add_argument("--sites", type=int, required=True)
p.add_argument("--params", type=int, required=True)
p.add_argument("--dropout", type=float, default=0.1)
p.add_argument("--neighbours", type=int, required=True, help="k, not counting the site itself")
p.add_argument("--threshold", type=int, required=True)
a = p.parse_args()

n, P = a.sites, a.params
clip, qrange, mod, max_w = 8.0, 4194304, 4294967296, 1000.0
num_shares = min(a.neighbours + 1, n)
rng = random.Random(1)
nids = list(range(1, n + 1))
states = {i: SecAggPlusState(nid=i) for i in nids}
site_time = {i: 0.0 for i in nids}
sent = {i: 0 for i in nids}
stage_max = []
coord = 0.0


def client_stage(fn):
    worst = 0.0
    out = {}
    for i, args in fn():
        t = time.perf_counter()
        out[i] = args()
        dt = time.perf_counter() - t
        site_time[i] += dt
        worst = max(worst, dt)
    stage_max.append(worst)
    return out


# Stage 0: setup (coordinator draws the graph as the workflow does)
t = time.perf_counter()
order = nids[:]
rng.shuffle(order)
half = num_shares >> 1
neigh = {nid: {order[(idx + o) % n] for o in range(-half, half + 1)} for idx, nid in enumerate(order)}
cfg0 = {Key.SAMPLE_NUMBER: n, Key.SHARE_NUMBER: num_shares, Key.THRESHOLD: a.threshold, Key.CLIPPING_RANGE: clip,
        Key.TARGET_RANGE: qrange, Key.MOD_RANGE: mod, Key.MAX_WEIGHT: max_w}
coord += time.perf_counter() - t
keys = client_stage(lambda: [(i, (lambda i=i: _setup(states[i], cfg0))) for i in nids])
for i, r in keys.items():
    sent[i] += len(r[Key.PUBLIC_KEY_1]) + len(r[Key.PUBLIC_KEY_2])

# Stage 1: share keys
t = time.perf_counter()
pks = {i: (keys[i][Key.PUBLIC_KEY_1], keys[i][Key.PUBLIC_KEY_2]) for i in nids}
cfg1 = {i: {str(j): pks[j] for j in neigh[i]} for i in nids}
coord += time.perf_counter() - t
shares = client_stage(lambda: [(i, (lambda i=i: _share_keys(states[i], cfg1[i]))) for i in nids])
t = time.perf_counter()
fwd = {i: ([], []) for i in nids}
for i, r in shares.items():
    sent[i] += sum(len(c) for c in r[Key.CIPHERTEXT_LIST]) + 8 * len(r[Key.DESTINATION_LIST])
    for d, c in zip(r[Key.DESTINATION_LIST], r[Key.CIPHERTEXT_LIST]):
        fwd[d][0].append(c)
        fwd[d][1].append(i)
coord += time.perf_counter() - t

# Stage 2: masked vectors; a share of the sites vanish after sharing keys
dropped = set(rng.sample(nids, int(round(a.dropout * n))))
active = [i for i in nids if i not in dropped]
update = ndarrays_to_parameters([np.random.default_rng(2).uniform(-1, 1, P).astype(np.float32)])
masked = client_stage(lambda: [(i, (lambda i=i: _collect_masked_vectors(
    states[i], {Key.CIPHERTEXT_LIST: fwd[i][0], Key.SOURCE_LIST: fwd[i][1]}, 100, update))) for i in active])
t = time.perf_counter()
total = None
for i, r in masked.items():
    sent[i] += sum(len(b) for b in r[Key.MASKED_PARAMETERS])
    vec = [bytes_to_ndarray(b) for b in r[Key.MASKED_PARAMETERS]]
    total = vec if total is None else parameters_addition(total, vec)
total = parameters_mod(total, mod)
coord += time.perf_counter() - t

# Stage 3: unmask
act = set(active)
reveal = client_stage(lambda: [(i, (lambda i=i: _unmask(states[i], {
    Key.ACTIVE_NODE_ID_LIST: list(neigh[i] & act), Key.DEAD_NODE_ID_LIST: list(neigh[i] & dropped)}))) for i in active])
t = time.perf_counter()
collected = {i: [] for i in nids}
for i, r in reveal.items():
    sent[i] += sum(len(s) for s in r[Key.SHARE_LIST])
    for o, s in zip(r[Key.NODE_ID_LIST], r[Key.SHARE_LIST]):
        collected[o].append(s)
vec = total
for nid, lst in collected.items():
    if len(lst) < a.threshold:
        print(json.dumps({"error": f"not enough shares for {nid}"}))
        sys.exit(1)
    secret = combine_shares(lst)
    if nid in act:
        vec = parameters_subtraction(vec, pseudo_rand_gen(secret, mod, get_parameters_shape(vec)))
    else:
        for nb in neigh[nid] - {nid}:
            key = generate_shared_key(bytes_to_private_key(secret), bytes_to_public_key(pks[nb][0]))
            mask = pseudo_rand_gen(key, mod, get_parameters_shape(vec))
            vec = parameters_addition(vec, mask) if nid > nb else parameters_subtraction(vec, mask)
vec = parameters_mod(vec, mod)
q_total, vec = factor_extract(vec)
agg = dequantize(vec, clip, qrange)
coord += time.perf_counter() - t

print(json.dumps({
    "sites": n, "params": P, "dropout": a.dropout, "coordinator_s": coord,
    "per_site_s": sum(site_time[i] for i in active) / len(active),
    "round_s": coord + sum(stage_max),
    "bytes_per_site": sum(sent[i] for i in active) / len(active),
}))
