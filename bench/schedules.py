#!/usr/bin/env python
"""Schedules compared: validation accuracy of one variant trained with one-cycle schedules of different lengths, peak learning rates or seeds.

Each argument is a study folder (`resnet-study run --out DIR`) holding a finished run of `--variant` with `--seed`,
or a run folder (`DIR/basic_post-seed1`); the runs are made with the same settings except `--epochs`, `--lr` or
`--seeds`, e.g.

    resnet-study run --preset full --variants basic_post --epochs 10 --out results-e10
    resnet-study run --preset full --variants basic_post --epochs 20 --out results-e20
    resnet-study run --preset full --variants basic_post --epochs 30 --out results-e30
    .venv/bin/python bench/schedules.py results-e10 results-e20 results-e30 --out assets/schedule-length.png

    resnet-study run --preset full --variants basic_post --epochs 10 --lr 0.05 --out results-lr005
    resnet-study run --preset full --variants basic_post --epochs 10 --lr 0.2 --out results-lr02
    resnet-study run --preset full --variants basic_post --epochs 10 --lr 0.4 --out results-lr04
    .venv/bin/python bench/schedules.py results-lr005 results-e10 results-lr02 results-lr04 --out assets/peak-lr.png

    resnet-study run --preset full --variants basic_post --seeds 1 --out results-seed1
    .venv/bin/python bench/schedules.py results-e20 results-seed1/basic_post-seed1

It prints a markdown table (epochs, peak lr, seed, final and best val accuracy, final train accuracy, train time) and
draws the validation and training accuracy per epoch of every schedule on shared axes. A longer one-cycle schedule
is a different run, not a continuation, so each curve ends annealed.
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

import pandas as pd


def load(folder: Path, variant: str, seed: int):
    "A finished run: `folder` itself if it is a run folder, else its `<variant>-seed<seed>` run."
    d = folder if (folder/'params.json').exists() or (folder/'metrics.json').exists() else folder/f'{variant}-seed{seed}'
    m, h = d/'metrics.json', d/'history.csv'
    if not m.exists() or not h.exists(): sys.exit(f"schedules: {d} has no finished run (metrics.json and history.csv)")
    m = json.loads(m.read_text())
    return dict(m, lr=m['parameters']['lr'], seed=m['parameters']['seed']), pd.read_csv(h)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('folders', nargs='+', type=Path, help='study folders, one per schedule')
    ap.add_argument('--variant', default='basic_post')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', type=Path, help='write the figure here (PNG)')
    a = ap.parse_args(argv)
    runs = sorted((load(f, a.variant, a.seed) for f in a.folders), key=lambda r: (r[0]['epochs_run'], r[0]['lr'], r[0]['seed']))
    variants = {m['variant'] for m, _ in runs}
    if len(variants) > 1: sys.exit(f"schedules: these runs train different variants ({', '.join(sorted(variants))}): compare one at a time")
    a.variant = variants.pop()
    rows = [dict(epochs=m['epochs_run'], peak_lr=m['lr'], seed=m['seed'], final_val_acc=round(m['final_val_acc'], 3), best_val_acc=round(m['best_val_acc'], 3),
                 final_train_acc=round(m['final_train_acc'], 3), train_min=round(m['train_time_s'] / 60, 1),
                 threads=m.get('machine', {}).get('threads')) for m, _ in runs]
    print(f"{a.variant}: one-cycle schedules\n")
    cols = list(rows[0])
    print('| ' + ' | '.join(cols) + ' |\n|' + '---:|' * len(cols))
    for r in rows: print('| ' + ' | '.join(str(r[c]) for c in cols) + ' |')
    if a.out:
        import matplotlib; matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        for m, h in runs:
            line, = ax.plot(h.epoch + 1, h.val_acc, marker='o', ms=3, label=f"{m['epochs_run']} epochs, lr {m['lr']:g}, seed {m['seed']}: val {m['final_val_acc']:.3f}")
            ax.plot(h.epoch + 1, h.train_acc, ls='--', color=line.get_color(), alpha=0.6)
        ax.set(xlabel='epoch', ylabel='top-1 accuracy', title=f'{a.variant}: one-cycle schedules (dashed: train)')
        ax.grid(alpha=0.3); ax.legend(); fig.tight_layout()
        a.out.parent.mkdir(parents=True, exist_ok=True); fig.savefig(a.out, dpi=110); print(f"\nfigure: {a.out}")


if __name__ == '__main__':
    main()
