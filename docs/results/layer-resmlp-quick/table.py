# Summarizes layer.yaml + result.yaml of a layer sweep output folder as a Markdown table.
import glob, os, sys, statistics as st, yaml
root = sys.argv[1]
rows = {}
for res in glob.glob(os.path.join(root, "*", "replicate_*", "level_*", "result.yaml")):
    r = yaml.safe_load(open(res))
    lay = os.path.join(os.path.dirname(res), "layer.yaml")
    l = yaml.safe_load(open(lay)) if os.path.exists(lay) else None
    rows.setdefault(r["method"], []).append((r, l))
def key(m):
    if m == "dense": return ("", 0)
    crit, p = m.rsplit("-p", 1)
    return (crit, int(p))
def ms(xs, fmt):
    if len(xs) < 2: return (fmt % xs[0]) + " (n=1)"
    return (fmt + " ± " + fmt) % (st.mean(xs), st.stdev(xs))
print("| method | n | blocks per stage | params | params −% | FLOPs | FLOPs −% | step time / dense | best test acc (%) |")
print("|---|---|---|---|---|---|---|---|---|")
for m in sorted(rows, key=key):
    rs = rows[m]
    acc = ms([100 * r["best_test_acc"] for r, _ in rs], "%.2f")
    if rs[0][1] is None:
        r = rs[0][0]
        print(f"| {m} | {len(rs)} | 5·5·5 | {r['params_total']:,} | 0 | {r['flops_dense']:,} | 0 | 1 | {acc} |")
        continue
    ls = [l for _, l in rs]
    stages = sorted({"·".join(map(str, l["blocks_per_stage"])) for l in ls})
    params = [l["params"] for l in ls]; flops = [l["flops"] for l in ls]
    pd, fd = ls[0]["params_dense"], ls[0]["flops_dense"]
    pr = [100 * (1 - p / pd) for p in params]; fr = [100 * (1 - f / fd) for f in flops]
    ratio = [l["step_time_ratio"] for l in ls]
    print(f"| {m} | {len(rs)} | {', '.join(stages)} | {ms(params, '%.0f')} | {ms(pr, '%.2f')} | {ms(flops, '%.0f')} | {ms(fr, '%.2f')} | {ms(ratio, '%.3f')} | {acc} |")
