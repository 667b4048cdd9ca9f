#!/usr/bin/python3
"""PyTorch reference of the six workloads of shared/WORKLOADS.md (W1..W6).

    /usr/bin/python3 bench/pytorch_workloads.py NAME|all [--steps N] [--warmup N] [--threads N] [--json]

Same contract and output as build/bench/workloads (bench/workloads/driver.c): float32, 2 threads
by default, inputs drawn once, a step = forward + backward + optimizer update, median ms/step over
--steps (default 20) after --warmup (default 3), peak RSS of the process (ru_maxrss, so with
"all" each later workload reports the peak so far: run one workload per process to compare).
The FLOP counts are the ones bench/workloads/*.c use, so GFLOP/s is comparable.
Needs Debian's python3-torch (1.13); Cora is read from $SELFSUP_SHARED_DATA, ../shared/data or
/work/shared/data like W5 does.
"""
import argparse
import json
import math
import os
import resource
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def nt_xent(z, tau):
    """SimCLR eq. 1 over 2B rows: rows i and i +- B are the positive pair; self-similarity masked."""
    n = z.shape[0]
    u = F.normalize(z, dim=1, eps=1e-12)
    sim = u @ u.t() / tau
    diag = torch.eye(n, dtype=torch.bool)
    logits = sim.masked_fill(diag, -1e9)
    b = n // 2
    pos = torch.cat([torch.arange(b, n), torch.arange(0, b)])
    return F.cross_entropy(logits, pos)


def conv_bn_relu(cin, cout, stride):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


def resnet18_cifar():
    layers = conv_bn_relu(3, 64, 1)
    cin = 64
    for i, w in enumerate([64, 128, 256, 512]):
        for j in range(2):
            layers.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
            cin = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 512


def convnet_w1():
    layers = conv_bn_relu(1, 32, 1) + conv_bn_relu(32, 64, 2) + conv_bn_relu(64, 128, 2) + conv_bn_relu(128, 128, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 128


def simclr(encoder, B, C, HW, hidden, out, tau, lr, wd):
    enc, feat = encoder()
    model = nn.Sequential(enc, nn.Linear(feat, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                          nn.Linear(hidden, out))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    x = torch.rand(2 * B, C, HW, HW)

    def step():
        loss = nt_xent(model(x), tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


class Block(nn.Module):
    """Pre-LN Transformer encoder layer, d 256, 4 heads, FFN 1024 exact GELU, dropout 0."""

    def __init__(self, d, h, f):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, dropout=0.0, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, f)
        self.ff2 = nn.Linear(f, d)

    def forward(self, x, mask):
        y = self.ln1(x)
        x = x + self.attn(y, y, y, attn_mask=mask, need_weights=False)[0]
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class TextLM(nn.Module):
    def __init__(self, T, V=260, d=256, h=4, f=1024, L=4):
        super().__init__()
        self.tok = nn.Embedding(V, d)
        self.pos = nn.Embedding(T, d)
        nn.init.normal_(self.tok.weight, 0, 0.02)
        nn.init.normal_(self.pos.weight, 0, 0.02)
        self.blocks = nn.ModuleList([Block(d, h, f) for _ in range(L)])
        self.ln = nn.LayerNorm(d)

    def forward(self, ids, mask):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x, mask)
        return self.ln(x) @ self.tok.weight.t()  # tied output projection


def textlm(B, T, causal, ids, targets):
    model = TextLM(T)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    mask = None
    if causal:  # additive causal mask
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)

    def step():
        logits = model(ids, mask)
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def w3():
    g = torch.Generator().manual_seed(1)
    B, T = 32, 128
    ids = torch.randint(0, 256, (B, T), generator=g)
    targets = torch.full((B, T), -100, dtype=torch.long)
    N = B * T
    chosen = torch.randperm(N, generator=g)[: int(0.15 * N + 0.5)]
    flat_ids, flat_t = ids.view(-1), targets.view(-1)
    for i in chosen.tolist():
        u = torch.rand(1, generator=g).item()
        flat_t[i] = flat_ids[i]
        if u < 0.8:
            flat_ids[i] = 259
        elif u < 0.9:
            flat_ids[i] = int(torch.randint(0, 256, (1,), generator=g))
    return textlm(B, T, False, ids, targets)


def w4():
    B, T = 16, 256
    s = torch.randint(0, 256, (B, T + 1))
    return textlm(B, T, True, s[:, :-1].contiguous(), s[:, 1:].contiguous())


def data_dir():
    env = os.environ.get("SELFSUP_SHARED_DATA")
    if env:
        return env
    return "../shared/data" if os.path.isdir("../shared/data") else "/work/shared/data"


def w5():
    d = os.path.join(data_dir(), "planetoid", "cora")
    ld = lambda n: np.load(os.path.join(d, n + ".npy"))
    n, f = (int(v) for v in ld("x_shape"))
    indptr, indices, vals = ld("x_indptr"), ld("x_indices"), ld("x_data").astype(np.float32)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    rs = np.bincount(rows, weights=vals, minlength=n)
    vals = (vals / np.where(rs == 0, 1, rs)[rows]).astype(np.float32)
    X = torch.sparse_csr_tensor(torch.from_numpy(indptr.astype(np.int64)), torch.from_numpy(indices.astype(np.int64)),
                                torch.from_numpy(vals), (n, f))
    ei = ld("edge_index").astype(np.int64)
    a = np.concatenate([ei, ei[::-1], np.stack([np.arange(n), np.arange(n)])], axis=1)
    key = np.unique(a[0] * n + a[1])
    src, dst = key // n, key % n
    deg = np.bincount(src, minlength=n).astype(np.float64)
    av = (1 / np.sqrt(deg[src]) / np.sqrt(deg[dst])).astype(np.float32)
    assert len(key) == 13264, len(key)
    A = torch.sparse_coo_tensor(torch.from_numpy(np.stack([src, dst])), torch.from_numpy(av), (n, n)).coalesce()
    A = A.to_sparse_csr()
    D = 512
    W = nn.Parameter(nn.init.xavier_uniform_(torch.empty(f, D)))
    bias = nn.Parameter(torch.zeros(D))
    prelu = nn.PReLU(1)
    disc = nn.Bilinear(D, D, 1)
    params = [W, bias] + list(prelu.parameters()) + list(disc.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    labels = torch.cat([torch.ones(n), torch.zeros(n)])
    Xd = X.to_sparse_coo()  # row shuffle on COO indices, then back to CSR, inside the step
    xi, xv = Xd.indices(), Xd.values()

    def enc(x):
        return prelu(torch.sparse.mm(A, torch.sparse.mm(x, W)) + bias)

    def step():
        perm = torch.randperm(n)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(n)
        xc = torch.sparse_coo_tensor(torch.stack([inv[xi[0]], xi[1]]), xv, (n, f)).coalesce().to_sparse_csr()
        h, hc = enc(X), enc(xc)
        s = torch.sigmoid(h.mean(0))
        ws = disc.weight[0] @ s  # h @ (W s) + b, the bilinear form without N x D x D
        logits = torch.cat([h @ ws, hc @ ws]) + disc.bias
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def w6():
    B = 128
    fc1, fc21, fc22, fc3, fc4 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20), nn.Linear(20, 400), nn.Linear(400, 784)
    params = [p for m in (fc1, fc21, fc22, fc3, fc4) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.rand(B, 784)

    def step():
        h = F.relu(fc1(x))
        mu, logvar = fc21(h), fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = fc4(F.relu(fc3(z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = bce + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


# FLOPs per step, the same formulas as bench/workloads/*.c.
def flops_simclr(enc_macs, n, F_, H, P):
    return 3.0 * (2.0 * enc_macs + 2.0 * n * (F_ * H + H * P) + 2.0 * n * n * P)


def conv_macs(layers, n, hw):
    tot = 0.0
    for cin, cout, k, s in layers:
        hw = (hw + 2 * (k // 2) - k) // s + 1
        tot += n * cout * hw * hw * cin * k * k
    return tot


def flops_w1():
    return flops_simclr(conv_macs([(1, 32, 3, 1), (32, 64, 3, 2), (64, 128, 3, 2), (128, 128, 3, 1)], 512, 28),
                        512, 128, 128, 64)


def flops_w2():
    n, tot, hw, cin = 64, 0.0, 32, 3
    tot += n * 64 * hw * hw * 3 * 9
    cin = 64
    for i, w in enumerate([64, 128, 256, 512]):
        for j in range(2):
            s = 2 if (i > 0 and j == 0) else 1
            ho = (hw + 2 - 3) // s + 1
            tot += n * w * ho * ho * cin * 9 + n * w * ho * ho * w * 9
            if s != 1 or cin != w:
                tot += n * w * ho * ho * cin
            hw, cin = ho, w
    return flops_simclr(tot, n, 512, 512, 128)


def flops_text(B, T):
    D, Fh, V, L = 256, 1024, 260, 4
    per_token = L * 2.0 * (4 * D * D + 2 * D * Fh + 2 * T * D) + 2.0 * D * V
    return 3.0 * per_token * B * T


def flops_w5():
    nx, na, n, d = 49216, 13264, 2708, 512
    enc = 2 * (2 * nx * d + 2 * na * d)
    disc = 2 * d * d + 2 * (2 * n * d)
    return 2 * enc + 3 * disc


def flops_w6():
    return 3.0 * 2.0 * 128 * (784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784)


WORKLOADS = [
    ("W1", "simclr-convnet", lambda: simclr(convnet_w1, 256, 1, 28, 128, 64, 0.5, 0.1, 1e-4), flops_w1),
    ("W2", "resnet18-cifar-simclr", lambda: simclr(resnet18_cifar, 32, 3, 32, 512, 128, 0.2, 0.1, 0.0), flops_w2),
    ("W3", "bert-mlm-mini", w3, lambda: flops_text(32, 128)),
    ("W4", "gpt-char", w4, lambda: flops_text(16, 256)),
    ("W5", "dgi-cora", w5, flops_w5),
    ("W6", "vae-mlp", w6, flops_w6),
]


def run(name, title, make, flops, steps, warmup, as_json):
    torch.manual_seed(1234)
    step = make()
    ms, cpu, loss = [], [], float("nan")
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        t1, c1 = time.perf_counter(), time.process_time()
        if i >= warmup:
            ms.append((t1 - t0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
    ms.sort()
    cpu.sort()
    med = ms[steps // 2] if steps % 2 else 0.5 * (ms[steps // 2 - 1] + ms[steps // 2])
    cpu_med = cpu[steps // 2] if steps % 2 else 0.5 * (cpu[steps // 2 - 1] + cpu[steps // 2])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    gf = flops() / (med * 1e6)
    if as_json:
        print(json.dumps({"workload": name, "title": title, "median_ms": round(med, 3), "min_ms": round(ms[0], 3),
                          "cpu_ms": round(cpu_med, 3), "gflops": round(gf, 2), "peak_rss_mb": round(rss, 1), "threads": torch.get_num_threads(),
                          "steps": steps, "loss": float("%.6g" % loss)}), flush=True)
    else:
        print("%-3s %-24s median %9.2f ms  min %9.2f ms  %7.2f GFLOP/s  peak RSS %8.1f MB  (%d threads, loss %.4g)"
              % (name, title, med, ms[0], gf, rss, torch.get_num_threads(), loss), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    torch.set_num_threads(a.threads)
    found = False
    for name, title, make, flops in WORKLOADS:
        if a.name == "all" or a.name.lower() == name.lower() or a.name == title:
            found = True
            run(name, title, make, flops, a.steps, a.warmup, a.json)
    if not found:
        print("pytorch_workloads: no workload '%s'" % a.name, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
