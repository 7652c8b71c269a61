#!/usr/bin/env python
"""How fast the convolutions of a Mini-ResNet training step run, layer by layer, against a matmul ceiling.

`bench/train_throughput.py` times whole training steps against a matmul ceiling; this script times their
convolutions: every distinct convolution of the variant (same channels, kernel, stride and input
size, counted by how often the model uses it) is timed alone at the training batch size, forward and backward
(input and weight gradients; the stem's input needs none), under bf16 autocast as `fit` runs it, in `channels_last`
(what the project uses) and in contiguous NCHW. The best of `--repeats` timings after warm-up is kept, and the
bf16 matmul ceiling (`common.matmul_ceiling`) is measured before and after (its best is the ceiling). Each layer's
multiply-accumulates are `resnet_study.metrics.count_macs` of it, as for the whole model.

The last line sums the layers as the model uses them: the GFLOP/s of all of a step's convolutions and their share
of the ceiling — the most a whole training step could reach if batch norm, ReLU, the adds, the loss and the
optimiser cost nothing.

    .venv/bin/python bench/conv_layers.py [--variant basic_post] [--batch 128] [--repeats 10] [--threads N]
                                          [--out FILE.md]
"""
from __future__ import annotations
import argparse, time
from collections import Counter
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from fastcore.basics import num_cpus

from resnet_study.metrics import count_macs
from resnet_study.model import MiniResNet, VARIANTS
from common import check_markdown, cpu_name, markdown, matmul_ceiling, report

FORMATS = {'channels_last': torch.channels_last, 'NCHW': torch.contiguous_format}


def conv_layers(variant, size=64) -> Counter:
    "(in, out, kernel, stride, padding, H, W) of every convolution the model applies to a `size`² image, with counts."
    m, seen = MiniResNet(variant), Counter()
    def hook(mod, inp, out):
        shape = mod.in_channels, mod.out_channels, mod.kernel_size[0], mod.stride[0], mod.padding[0]
        seen[(*shape, *inp[0].shape[-2:])] += 1
    hs = [c.register_forward_hook(hook) for c in m.modules() if isinstance(c, nn.Conv2d)]
    with torch.no_grad(): m(torch.zeros(1, 3, size, size))
    for h in hs: h.remove()
    return seen


def make_conv(layer, fmt=torch.contiguous_format) -> nn.Conv2d:
    "A convolution of the shape `layer` describes, without bias as in the model."
    ci, co, k, s, p, h, w = layer
    return nn.Conv2d(ci, co, k, s, p, bias=False).to(memory_format=fmt)

def layer_name(layer) -> str:
    ci, co, k, s, p, h, w = layer
    return f"{ci}→{co} {k}×{k}/{s} at {h}×{w}" + (' (stem)' if ci == 3 else '')

def time_layer(layer, batch, fmt, repeats) -> tuple[float, float]:
    """Best forward and backward seconds of one convolution under bf16 autocast; the stem's input (the image) has no
    gradient."""
    ci, _, _, _, _, h, w = layer
    conv = make_conv(layer, fmt)
    x = torch.randn(batch, ci, h, w).to(memory_format=fmt).requires_grad_(ci != 3)
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

def measure_layer(layer, uses, batch, repeats) -> dict:
    """One convolution timed in each format: FLOPs and seconds of its forward and backward passes at `batch`. Its
    backward computes the input and weight gradients (twice the forward's work), the stem's only the weights'."""
    ci, _, _, _, _, h, w = layer
    macs = count_macs(make_conv(layer), (1, ci, h, w))
    flops = 2 * macs * batch, 2 * macs * batch * (1 if ci == 3 else 2)
    r = dict(layer=layer_name(layer), uses=uses, macs=macs, flops=flops)
    for name, fmt in FORMATS.items(): r[name] = time_layer(layer, batch, fmt, repeats)
    return r

def speeds(r, fmt) -> tuple[float, float, float]:
    "GFLOP/s of a measured layer `r` in format `fmt`: forward, backward, and both together."
    (ff, fb), (f, b) = r['flops'], r[fmt]
    return ff / f / 1e9, fb / b / 1e9, (ff + fb) / (f + b) / 1e9

def layer_row(r, ceil) -> dict:
    cells = {'convolution': r['layer'], 'uses': str(r['uses']), 'MMAC/img': f"{r['macs'] / 1e6:.1f}"}
    for name in FORMATS:
        f, b, both = speeds(r, name)
        cells.update({f'{name} fwd GFLOP/s': f"{f:.0f}", f'{name} bwd GFLOP/s': f"{b:.0f}",
                      f'{name} % of ceiling': f"{100 * both / ceil:.0f}%"})
    return cells

def total_row(rows, ceil) -> dict:
    "All of a step's convolutions, each as often as the model uses it: what a step reaches if nothing else takes time."
    cells = {'convolution': "**all of a step's convolutions**", 'uses': str(sum(r['uses'] for r in rows)),
             'MMAC/img': f"{sum(r['uses'] * r['macs'] for r in rows) / 1e6:.1f}"}
    for name in FORMATS:
        fl = sum(r['uses'] * sum(r['flops']) for r in rows)
        gf = fl / sum(r['uses'] * sum(r[name]) for r in rows) / 1e9
        cells.update({f'{name} fwd GFLOP/s': '', f'{name} bwd GFLOP/s': '',
                      f'{name} % of ceiling': f"**{gf:.0f} GFLOP/s, {100 * gf / ceil:.0f}%**"})
    return cells


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variant', default='basic_post', choices=VARIANTS)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=10)
    ap.add_argument('--threads', type=int, default=num_cpus(),
                    help=f'torch.set_num_threads (default: the cores available, {num_cpus()})')
    ap.add_argument('--out', type=Path, help='also write the table to this markdown file')
    a = ap.parse_args(argv)
    if a.batch < 1 or a.repeats < 1 or a.threads < 1: ap.error('--batch, --repeats and --threads must be at least 1')
    check_markdown()
    torch.set_num_threads(a.threads)
    dev = torch.device('cpu')
    t_start = time.time()
    ceil = [matmul_ceiling(dev)['bf16']]
    print(f"bf16 matmul ceiling at the start: {ceil[0]:.0f} GFLOP/s", flush=True)
    rows = []
    for layer, n in conv_layers(a.variant).items():
        r = measure_layer(layer, n, a.batch, a.repeats); rows.append(r)
        each = ', '.join('{} fwd {:.0f} bwd {:.0f} GFLOP/s'.format(f, *speeds(r, f)) for f in FORMATS)
        print(f"  {r['layer']}: {each}", flush=True)
    ceil.append(matmul_ceiling(dev)['bf16'])
    c = max(ceil)
    head = (f"`{a.variant}` convolutions, batch {a.batch}, bf16 autocast, forward + backward timed alone (best of "
            f"{a.repeats}) · torch {torch.__version__} · {cpu_name()} · {a.threads} threads · bf16 matmul ceiling "
            f"**{c:.0f} GFLOP/s** (measured {', '.join(f'{x:.0f}' for x in ceil)}: start, end) · run took "
            f"{(time.time() - t_start) / 60:.1f} min")
    report(head + '\n\n' + markdown(pd.DataFrame([layer_row(r, c) for r in rows] + [total_row(rows, c)])), a.out)


if __name__ == '__main__':
    main()
