#!/usr/bin/env python
"""Is bf16 autocast faster than fp32 for a training step here, and would it be on a CPU without bf16 instructions?

The runtime trains in bf16 autocast on a CPU whose instructions do bf16 natively (`resnet_study.core.cpu_has_bf16`:
AVX512-BF16 or AMX on x86). oneDNN's own check, `torch.ops.mkldnn._is_mkldnn_bf16_supported()`, says yes on any
AVX512 CPU: on those without bf16 instructions (Skylake and Cascade Lake Xeons, still common in clouds) oneDNN
emulates bf16. This script measures what each answer costs. For each instruction set it runs a fresh process with
oneDNN capped to it (`ONEDNN_MAX_CPU_ISA`; "native" is no cap), which times training steps of one variant in fp32 and
in bf16 autocast, both `channels_last`, as `fit` runs them: warm-up, then `--rounds` interleaved rounds, the best of
each kept. A cap only lowers what oneDNN uses; the CPU's own flags (and so `cpu_has_bf16`) stay what they are.

    .venv/bin/python bench/precision.py [--variant basic_post] [--batch 64] [--steps 3] [--rounds 3] [--threads N]
                                        [--out FILE.md]
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, time
from pathlib import Path

from fastcore.basics import num_cpus

ISAS = {'native': None, 'AVX512_CORE (as on Skylake / Cascade Lake)': 'AVX512_CORE'}


def child(a):
    "In the capped process: best ms per step in fp32 and bf16, and what the two checks say, as one JSON line."
    import torch
    from resnet_study.core import Runtime, cpu_has_bf16
    from resnet_study.model import MiniResNet
    from resnet_study.train import make_optimizer, make_scheduler, train_step
    torch.set_num_threads(a.threads)
    x = torch.randn(a.batch, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 25, (a.batch,))
    runs = {}
    for p in ('fp32', 'bf16'):
        rt = Runtime('cpu', p, channels_last=True)
        torch.manual_seed(0)
        m = rt.prepare(MiniResNet(a.variant)).train()
        opt = make_optimizer(m, 0.1); sched = make_scheduler(opt, 'constant', 0.1, 10 ** 6)
        train_step(m, opt, sched, x, y, rt)  # warm-up: oneDNN picks and builds its kernels
        runs[p] = (m, opt, sched, rt)
    best = dict.fromkeys(runs, float('inf'))
    for _ in range(a.rounds):
        for p, (m, opt, sched, rt) in runs.items():
            t0 = time.perf_counter()
            for _ in range(a.steps): train_step(m, opt, sched, x, y, rt)
            best[p] = min(best[p], (time.perf_counter() - t0) / a.steps * 1e3)
    onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    print(json.dumps(dict(ms=best, onednn_bf16=onednn, cpu_has_bf16=cpu_has_bf16())))


def isa_row(name, res) -> dict:
    "One instruction set's measurement as table cells."
    f32, b16 = res['ms']['fp32'], res['ms']['bf16']
    return {'oneDNN instruction set': name, "oneDNN's bf16 check": str(res['onednn_bf16']),
            'fp32 ms/step': f"{f32:.0f}", 'bf16 ms/step': f"{b16:.0f}",
            'bf16 speed-up over fp32': f"**{f32 / b16:.2f}×**"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variant', default='basic_post')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=3, help='timed steps per round and precision')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=num_cpus(),
                    help=f'torch.set_num_threads (default: the cores available, {num_cpus()})')
    ap.add_argument('--out', type=Path, help='also write the table to this markdown file')
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    from resnet_study.model import VARIANTS
    if a.variant not in VARIANTS: ap.error(f"--variant {a.variant!r}: use one of {', '.join(VARIANTS)}")
    if min(a.batch, a.steps, a.rounds, a.threads) < 1:
        ap.error('--batch, --steps, --rounds and --threads must be at least 1')
    if a.child: return child(a)

    import pandas as pd, torch
    from common import check_markdown, cpu_name, markdown, report
    check_markdown()
    from resnet_study.core import cpu_has_bf16, get_precision
    t_start = time.time()
    args = [sys.executable, __file__, '--child', '--variant', a.variant, '--batch', str(a.batch),
            '--steps', str(a.steps), '--rounds', str(a.rounds), '--threads', str(a.threads)]
    rows = []
    for name, isa in ISAS.items():
        env = {k: v for k, v in os.environ.items() if k != 'ONEDNN_MAX_CPU_ISA'}
        if isa: env['ONEDNN_MAX_CPU_ISA'] = isa
        r = subprocess.run(args, env=env, capture_output=True, text=True)
        if r.returncode: sys.exit(f"error: the {name} measurement failed:\n{r.stderr.strip()}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append((name, res))
        print(f"{name}: fp32 {res['ms']['fp32']:.0f} ms, bf16 {res['ms']['bf16']:.0f} ms per step", flush=True)
    yes = lambda b: 'yes' if b else 'no'
    head = (f"`{a.variant}` training step, batch {a.batch}, channels_last, best of {a.rounds} rounds of {a.steps} "
            f"steps · torch {torch.__version__} · {cpu_name()} · {a.threads} threads · this CPU's bf16 "
            f"instructions: "
            f"AVX512-BF16 {yes(torch.cpu._is_avx512_bf16_supported())}, AMX {yes(torch.cpu._is_amx_tile_supported())}"
            f" · `cpu_has_bf16()` {cpu_has_bf16()}, so the runtime trains in {get_precision(None, 'cpu')} · run took "
            f"{(time.time() - t_start) / 60:.1f} min")
    table = markdown(pd.DataFrame([isa_row(name, res) for name, res in rows]), align=('left',) * 2 + ('right',) * 3)
    report(head + '\n\n' + table, a.out)


if __name__ == '__main__':
    main()
