#!/usr/bin/python3
"""selfsup vs PyTorch, side by side (issue 11).

    /usr/bin/python3 bench/compare.py [W1 W2 ...] [--rounds R] [--steps N] [--warmup N] [--build DIR]
                                     [--wait-policy P] [--markdown]

For each workload, R rounds of: one selfsup process (DIR/bench/workloads NAME --json), then one
PyTorch process (bench/pytorch_workloads.py NAME --json), alternating A B A B so that drift in
machine load hits both alike. Each process reports the median ms/step over N steps after the
warm-up and its peak RSS; the table shows the median over the rounds of those medians, the ratio
selfsup / PyTorch (< 1: selfsup faster), GFLOP/s of both (FLOPs from the layer shapes, the same
formula on both sides), the fraction of the measured sgemm rate (DIR/bench/gemm, best direct
call of the GEMM kernel over its sizes: dnnl_sgemm with oneDNN, else cblas_sgemm) that selfsup
reaches, and the peak RSS of both.
Both sides run with OMP_NUM_THREADS=2 (torch.set_num_threads(2)) and the same OMP_WAIT_POLICY
(--wait-policy; default: leave the environment as it is).
The "cpu ratio" column is the same ratio for the median process CPU time per step. With
--threads 1 it measures the work of a step even on a loaded machine (wall time there measures
the wait for a core as well); with more threads it also counts spin-waiting, so read it only
for single-thread runs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write("compare: %s failed (%d): %s\n" % (" ".join(cmd), out.returncode, out.stderr[-2000:]))
        return None
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


def sgemm_rate(build, env):
    exe = os.path.join(build, "bench", "gemm")
    if not os.path.exists(exe):
        return None
    out = subprocess.run([exe, "--json"], env=env, capture_output=True, text=True)
    rates = [json.loads(l)["direct_gflops"] for l in out.stdout.splitlines() if l.startswith("{")]
    return max(rates) if rates else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=["W1", "W2", "W3", "W4", "W5", "W6"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default="build")
    ap.add_argument("--wait-policy", default=None)
    ap.add_argument("--no-gemm", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    if a.wait_policy:
        env["OMP_WAIT_POLICY"] = a.wait_policy
    sgemm = None if a.no_gemm else sgemm_rate(a.build, env)
    ours = [os.path.join(a.build, "bench", "workloads")]
    theirs = ["/usr/bin/python3", os.path.join(HERE, "pytorch_workloads.py")]
    common = ["--json", "--steps", str(a.steps), "--warmup", str(a.warmup)]
    rows = []
    for name in a.names:
        s, p = [], []
        for _ in range(a.rounds):
            r = run_json(ours + [name] + common + ["--threads", str(a.threads)], env)
            if r:
                s.append(r)
            r = run_json(theirs + [name] + common + ["--threads", str(a.threads)], env)
            if r:
                p.append(r)
        if not s or not p:
            rows.append((name, None, None))
            continue
        rows.append((name, s, p))
    sep = " | " if a.markdown else "  "
    head = ["workload", "selfsup ms", "PyTorch ms", "ratio", "cpu ratio", "selfsup GFLOP/s", "PyTorch GFLOP/s",
            "% sgemm", "RSS selfsup MB", "RSS PyTorch MB"]
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print(("%-24s %10s %10s %6s %9s %8s %8s %7s %9s %9s") % tuple(h[:10] for h in head))
    for name, s, p in rows:
        if s is None:
            print("%s: failed" % name)
            continue
        ms_s = statistics.median(r["median_ms"] for r in s)
        ms_p = statistics.median(r["median_ms"] for r in p)
        gf_s = statistics.median(r["gflops"] for r in s)
        gf_p = statistics.median(r["gflops"] for r in p)
        rss_s = max(r["peak_rss_mb"] for r in s)
        rss_p = max(r["peak_rss_mb"] for r in p)
        pct = "%.0f%%" % (100.0 * gf_s / sgemm) if sgemm else "-"
        cpu_s = [r["cpu_ms"] for r in s if "cpu_ms" in r]
        cpu_p = [r["cpu_ms"] for r in p if "cpu_ms" in r]
        cpu_ratio = "%.2f" % (statistics.median(cpu_s) / statistics.median(cpu_p)) if cpu_s and cpu_p else "-"
        cells = ["%s %s" % (name, s[0]["title"]), "%.1f" % ms_s, "%.1f" % ms_p, "%.2f" % (ms_s / ms_p), cpu_ratio,
                 "%.1f" % gf_s, "%.1f" % gf_p, pct, "%.0f" % rss_s, "%.0f" % rss_p]
        if a.markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print("%-24s %10s %10s %6s %9s %8s %8s %7s %9s %9s" % tuple(cells))
        sys.stdout.flush()
    if sgemm:
        print("\nsgemm (best direct GEMM kernel call of bench/gemm, %d threads): %.1f GFLOP/s" % (a.threads, sgemm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
