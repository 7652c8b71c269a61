#!/usr/bin/env python
"""How fast the convolutions of a Mini-ResNet training step run, layer by layer, against a matmul ceiling measured in the same run.

`bench/train_throughput.py --profile` infers the convolutions' speed from their share of a profiled step. This
script measures it directly: every distinct convolution of the variant (same channels, kernel, stride and input
size, counted by how often the model uses it) is timed alone at the training batch size, forward and backward
(input and weight gradients; the stem's input needs none), under bf16 autocast as `fit` runs it, in `channels_last`
(what the project uses) and in contiguous NCHW. The best of `--repeats` timings after warm-up is kept, and the
bf16 matmul ceiling of `train_throughput.py` is measured before and after (its best is the ceiling).

The last line sums the layers as the model uses them: the GFLOP/s of all of a step's convolutions and their share
of the ceiling — the most a whole training step could reach if batch norm, ReLU, the adds, the loss and the
optimiser cost nothing.

    .venv/bin/python bench/conv_layers.py [--variant basic_post] [--batch 128] [--repeats 10] [--threads N] [--out FILE.md]
"""
from __future__ import annotations
import argparse, os, platform, time
from collections import Counter
from pathlib import Path

import torch
from torch import nn

from resnet_study.model import MiniResNet, VARIANTS
from train_throughput import cpu_name, matmul_ceiling, n_cores

FORMATS = {'channels_last': torch.channels_last, 'NCHW': torch.contiguous_format}


def conv_layers(variant, size=64) -> Counter:
    "(in, out, kernel, stride, padding, H, W) of every convolution the model applies to a `size`² image, with counts."
    m, seen = MiniResNet(variant), Counter()
    def hook(mod, inp, out):
        seen[(mod.in_channels, mod.out_channels, mod.kernel_size[0], mod.stride[0], mod.padding[0], *inp[0].shape[-2:])] += 1
    hs = [c.register_forward_hook(hook) for c in m.modules() if isinstance(c, nn.Conv2d)]
    with torch.no_grad(): m(torch.zeros(1, 3, size, size))
    for h in hs: h.remove()
    return seen


def time_layer(layer, batch, fmt, repeats, stem) -> tuple[float, float]:
    "Best forward and backward seconds of one convolution under bf16 autocast."
    ci, co, k, s, p, h, w = layer
    conv = nn.Conv2d(ci, co, k, s, p, bias=False).to(memory_format=fmt)
    x = torch.randn(batch, ci, h, w).to(memory_format=fmt).requires_grad_(not stem)
    fwd = bwd = float('inf')
    for i in range(repeats + 2):  # two warm-ups: oneDNN picks and caches its kernels
        conv.zero_grad(set_to_none=True); x.grad = None
        t0 = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16): y = conv(x)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        if i >= 2: fwd, bwd = min(fwd, t1 - t0), min(bwd, t2 - t1)
    return fwd, bwd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variant', default='basic_post', choices=VARIANTS)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=10)
    ap.add_argument('--threads', type=int, default=n_cores())
    ap.add_argument('--out', type=Path, help='also write the table to this markdown file')
    a = ap.parse_args(argv)
    if a.batch < 1 or a.repeats < 1 or a.threads < 1: ap.error('--batch, --repeats and --threads must be at least 1')
    torch.set_num_threads(a.threads)
    dev = torch.device('cpu')
    t_start = time.time()
    ceil = [matmul_ceiling(dev)['bf16']]
    print(f"bf16 matmul ceiling at the start: {ceil[0]:.0f} GFLOP/s", flush=True)
    layers = conv_layers(a.variant)
    rows, total = [], {f: [0.0, 0.0] for f in FORMATS}  # per format: FLOPs and seconds of a whole step's convolutions
    for layer, n in layers.items():
        ci, co, k, s, p, h, w = layer
        stem = ci == 3  # the image needs no gradient
        macs = a.batch * ci * co * k * k * ((h + 2 * p - k) // s + 1) * ((w + 2 * p - k) // s + 1)
        fl_f, fl_b = 2 * macs, 2 * macs * (1 if stem else 2)
        row = dict(layer=f"{ci}→{co} {k}×{k}/{s} at {h}×{w}" + (' (stem)' if stem else ''), uses=n, mmac_img=macs / a.batch / 1e6)
        for name, fmt in FORMATS.items():
            f, b = time_layer(layer, a.batch, fmt, a.repeats, stem)
            row[name] = (fl_f / f / 1e9, fl_b / b / 1e9, (fl_f + fl_b) / (f + b) / 1e9)
            total[name][0] += n * (fl_f + fl_b); total[name][1] += n * (f + b)
        rows.append(row)
        print(f"  {row['layer']}: " + ', '.join(f"{k} fwd {v[0]:.0f} bwd {v[1]:.0f} GFLOP/s" for k, v in row.items() if k in FORMATS), flush=True)
    ceil.append(matmul_ceiling(dev)['bf16'])
    c = max(ceil)
    head = (f"`{a.variant}` convolutions, batch {a.batch}, bf16 autocast, forward + backward timed alone (best of {a.repeats}) · "
            f"torch {torch.__version__} · {cpu_name()} · {a.threads} threads · bf16 matmul ceiling **{c:.0f} GFLOP/s** "
            f"(measured {', '.join(f'{x:.0f}' for x in ceil)}: start, end) · run took {(time.time() - t_start) / 60:.1f} min")
    lines = [head, '', '| convolution | uses | MMAC/img | ' + ' | '.join(f'{f} fwd GFLOP/s | {f} bwd GFLOP/s | {f} % of ceiling' for f in FORMATS) + ' |',
             '|---|---:|---:|' + '---:|' * 3 * len(FORMATS)]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['uses']} | {r['mmac_img']:.1f} | " +
                     ' | '.join(f"{r[f][0]:.0f} | {r[f][1]:.0f} | {100 * r[f][2] / c:.0f}%" for f in FORMATS) + ' |')
    cells = [x for f in FORMATS for x in ('', '', f"**{total[f][0] / total[f][1] / 1e9:.0f} GFLOP/s, {100 * total[f][0] / total[f][1] / 1e9 / c:.0f}%**")]
    lines.append(f"| **all of a step's convolutions** | {sum(layers.values())} | {sum(r['uses'] * r['mmac_img'] for r in rows):.1f} | " + ' | '.join(cells) + ' |')
    md = '\n'.join(lines)
    print('\n' + md)
    if a.out: a.out.write_text(md + '\n'); print(f"\nwritten: {a.out}")


if __name__ == '__main__':
    main()
