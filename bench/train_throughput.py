#!/usr/bin/env python
"""Training speed of the library's loop against the usual PyTorch loop, on the same Tiny-ImageNet-25 images.

It times whole training steps at a study's batch size (next batch, forward, backward, update) of
(a) the library's loop: `train_batches` feeding `make_step` (the step of `fit`), with the model, optimiser and
    schedule of a default `RunConfig`, under the `Runtime`'s defaults (channels_last; bf16 autocast on a CPU with
    bf16 instructions, fp32 on any other; CUDA where there is one);
(b) the usual loop: the same images as JPEGs, torchvision `ImageFolder` with per-sample RandomCrop(64, padding=4),
    RandomHorizontalFlip, ToTensor, Normalize, a shuffling `DataLoader`, the same model, initial weights and
    optimiser (no schedule), eager fp32 NCHW;
(c) with `--compile`, (a) under `torch.compile(model)` as `fit(..., compile=True)` runs it, from an empty cache;
and a matmul ceiling (`common.matmul_ceiling`) at the start and after every round. After a warm-up, configurations
run `--rounds` interleaved rounds and each one's best round is reported: a burst of other jobs' load falls on no
configuration alone. `--max-seconds` caps each configuration (half of it for the warm-up, all of it for the rounds;
a running step finishes, and one is always measured). Threads: torch's (OMP_NUM_THREADS). It prints a line per
configuration and round, and one at least every 30 s. GFLOP/s = 3 × forward MACs × 2 FLOP/MAC × img/s. Where a
step's time goes, convolution by convolution, is `bench/conv_layers.py`'s measurement.

    .venv/bin/python bench/train_throughput.py [--data PATH|synthetic] [--steps 30] [--rounds 3] [--out FILE.md]
    .venv/bin/python bench/train_throughput.py --data synthetic --quick   # a few steps each: does it work?
"""
import argparse, hashlib, os, shutil, sys, tempfile, threading, time

import pandas as pd
import torch
from fastcore.basics import num_cpus

from resnet_study.core import Runtime, cache_dir
from resnet_study.data import DataError, TinyImageNetArchive, archive_identity, needs_download, resolve_data_path
from resnet_study.batches import load_tiny_imagenet, train_batches, IMAGENET_MEAN, IMAGENET_STD
from resnet_study.config import RunConfig, build_model
from resnet_study.model import VARIANTS
from resnet_study.metrics import count_macs
from resnet_study.train import make_optimizer, make_scheduler, make_step
from common import check_markdown, cpu_name, make_sync, markdown, matmul_ceiling, report

class Say:
    "Print a line with the seconds since the start; after 30 s without one (`beat`), say what is running."
    def __init__(self): self.t0 = self.last = time.perf_counter(); self.doing = 'starting'
    def __call__(self, msg):
        print(f"{msg} [{time.perf_counter() - self.t0:.0f}s]", flush=True); self.last = time.perf_counter()
    def beat(self):
        while True:
            time.sleep(1)
            if time.perf_counter() - self.last >= 30: self(f"... {self.doing}")

say = Say(); threading.Thread(target=say.beat, daemon=True).start()

class Config:
    "Configuration (a), (b) or (c) (`kind`): `step(xb, yb)` fed by the endless batches `it`; its rounds' timings."
    def __init__(self, kind, variant, step, it, device, finite=None):
        self.kind, self.variant, self.step, self.it, self.finite = kind, variant, step, it, finite
        self.sync, self.rounds, self.warm_s, self.name = make_sync(device), [], 0.0, f"({kind}) {variant}"
    def run(self, steps, max_seconds, what) -> tuple:
        "`steps` timed steps, or fewer (at least one) once they took `max_seconds`: (images, s, data s, steps)."
        n = t = d = k = 0
        while k < steps and not (k and max_seconds and t >= max_seconds):
            say.doing = f"{what} {self.name}: step {k + 1}"
            self.sync(); t0 = time.perf_counter()
            xb, yb = next(self.it)
            self.sync(); t1 = time.perf_counter()
            self.step(xb, yb)
            self.sync(); t2 = time.perf_counter()
            n, t, d, k = n + len(yb), t + t2 - t0, d + t1 - t0, k + 1
        return n, t, d, k
    def ips(self): return max(n / t for n, t, _, _ in self.rounds)
    def data_share(self): _, t, d, _ = max(self.rounds, key=lambda r: r[0] / r[1]); return f"{100 * d / t:.1f}%"
    def spread(self): return '–'.join(f"{f(n / t for n, t, _, _ in self.rounds):.0f}" for f in (min, max))

def forever(epoch_batches):
    "Batches across epoch boundaries: `epoch_batches(epoch)` iterates over one epoch."
    for epoch in range(sys.maxsize): yield from epoch_batches(epoch)

def library(variant, data, rt, compiled=False) -> Config:
    "(a), or (c) when `compiled`: `make_step` on `train_batches`, set up as `fit` does for a default `RunConfig`."
    cfg = RunConfig(variant=variant, n_classes=len(data.classes))
    model = rt.prepare(build_model(cfg)).train()
    trn = train_batches(data, cfg.batch_size, seed=cfg.seed, augment=cfg.augment, device=rt.device,
                        memory_format=rt.memory_format)
    opt = make_optimizer(model, cfg.lr)
    sched = make_scheduler(opt, cfg.schedule, cfg.lr, cfg.epochs * len(trn), cfg.warmup)
    step, stats = make_step(torch.compile(model) if compiled else model, opt, sched, rt, rt.grad_scaler(),
                            cfg.label_smoothing)
    return Config('c' if compiled else 'a', variant, step, forever(trn.set_epoch), rt.device, stats.finite)

def imagefolder(data_path, classes) -> str:
    "The training JPEGs of `classes`, extracted once into an ImageFolder tree in the cache folder."
    key = hashlib.sha1(repr((archive_identity(data_path), tuple(classes))).encode()).hexdigest()[:16]
    root = cache_dir()/'imagefolder'/f'tiny-{len(classes)}c-train-{key}'
    if root.is_dir(): return str(root)
    archive, tmp = TinyImageNetArchive(data_path), root.with_name(f'.{root.name}.{os.getpid()}.tmp')
    for i, c in enumerate(classes):
        say.doing = f"extracting the training JPEGs for (b): class {i + 1} of {len(classes)}"
        (tmp/c).mkdir(parents=True, exist_ok=True)
        for f in archive.files(f'train/{c}/images'): (tmp/c/f.rsplit('/', 1)[-1]).write_bytes(archive.read(f))
    if not root.is_dir(): tmp.rename(root)  # only a complete tree gets the name
    shutil.rmtree(tmp, ignore_errors=True)  # left only where another run's tree got there first
    say(f"extracted the training images of {len(classes)} classes to {root}")
    return str(root)

def usual(variant, data, data_path, workers, device) -> Config:
    "(b): the loop most people would write: ImageFolder, per-sample transforms, DataLoader, eager fp32 NCHW."
    from torchvision import datasets, transforms
    from torch.utils.data import DataLoader
    tfm = transforms.Compose([transforms.RandomCrop(64, padding=4), transforms.RandomHorizontalFlip(),
                              transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    ds = datasets.ImageFolder(imagefolder(data_path, data.classes), transform=tfm)
    if ds.classes != list(data.classes) or len(ds) != len(data.train_y):
        sys.exit(f"error: {ds.root} does not hold the {len(data.train_y)} training images of (a): delete it, rerun")
    cfg = RunConfig(variant=variant, n_classes=len(data.classes))
    model = build_model(cfg).to(device).train()  # the same initial weights as (a)
    opt = make_optimizer(model, cfg.lr)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg.seed), pin_memory=device.type == 'cuda')
    def step(x, y):
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad(); loss.backward(); opt.step()
    return Config('b', variant, step, forever(lambda e: loader), device)

def run_rounds(configs, a, ceiling):
    "Warm every configuration up, then measure them in interleaved rounds, each within its cap; `ceiling` after each."
    for c in configs:
        t0 = time.perf_counter(); c.run(max(a.warmup, 1 + (c.kind == 'c')), a.max_seconds / 2, 'warming up')
        c.warm_s = time.perf_counter() - t0; say(f"{c.name} warmed up in {c.warm_s:.1f}s")
    for i in range(a.rounds):
        for c in configs:
            left = a.max_seconds - sum(r[1] for r in c.rounds) if a.max_seconds else 0
            if c.rounds and a.max_seconds and left <= 0:
                say(f"round {i + 1}/{a.rounds} {c.name}: skipped, its {a.max_seconds:g}s are spent"); continue
            steps = a.steps // a.rounds + (i < a.steps % a.rounds)
            c.rounds.append(c.run(steps, left / (a.rounds - i), f'round {i + 1}')); n, t, d, k = c.rounds[-1]
            say(f"round {i + 1}/{a.rounds} {c.name}: {n / t:.1f} img/s, {1e3 * t / k:.0f} ms/step, "
                f"data {100 * d / t:.1f}%, {k} steps")
        ceiling(f'after round {i + 1}')
    for c in configs:
        if c.finite and not c.finite(): sys.exit(f"error: the library's loop diverged (non-finite loss): {c.name}")

def row(v, configs, ceil, prec) -> dict:
    "(a) against (b), and (c), for variant `v`; `prec` names the ceiling of (a)'s precision."
    by = {c.kind: c for c in configs if c.variant == v}
    p, b, macs = by['a'], by['b'], count_macs(build_model(RunConfig(variant=v)))
    pct = lambda x, prec: f"{100 * 6 * macs * x.ips() / 1e9 / ceil[prec]:.0f}%"
    r = {'variant': f"`{v}`", 'fwd MMAC/img': f"{macs / 1e6:.0f}", '(a) img/s': f"{p.ips():.1f}",
         '(b) img/s': f"{b.ips():.1f}", '(a)/(b)': f"**{p.ips() / b.ips():.2f}×**", 'data (a)': p.data_share(),
         'data wait (b)': b.data_share(), f'(a) % of {prec} ceiling': pct(p, prec),
         '(b) % of fp32 ceiling': pct(b, 'fp32'), 'rounds (a) img/s': p.spread(), 'rounds (b) img/s': b.spread()}
    if d := by.get('c'):
        r |= {'(c)/(a)': f"**{d.ips() / p.ips():.2f}×**", f'(c) % of {prec} ceiling': pct(d, prec),
              '(c) warm-up incl. compiling': f"{d.warm_s:.0f} s"}
    return r | {'steps (a)/(b)': '/'.join(str(sum(k for *_, k in x.rounds)) for x in (p, b))}

def measure(a, rt):
    "Run the benchmark the arguments `a` describe on the runtime `rt`; print its table (and write it to `--out`)."
    path = resolve_data_path(a.data)
    n = min(RunConfig.n_classes, len(TinyImageNetArchive(path).text('wnids.txt').split()))  # 'synthetic' has 8
    say.doing = f"decoding {n} classes of {path.name} (once: then cached)"
    data = load_tiny_imagenet(path, n_classes=n, class_seed=RunConfig.class_seed)
    prec = 'fp32' if rt.precision == 'fp32' else 'bf16'  # the ceiling of the precision (a) trains in
    where = torch.cuda.get_device_name(rt.device) if rt.device.type == 'cuda' else f"{cpu_name()}, {num_cpus()} cores"
    head = (f"torch {torch.__version__} · {where} · torch threads {torch.get_num_threads()} · (a) {rt.precision}, "
            f"channels_last={rt.channels_last} on {rt.device} · (b) fp32, DataLoader with {a.workers} workers · "
            f"batch {RunConfig.batch_size} · {len(data.train_y)} training images of {n} classes")
    say(head); ceils = []
    def ceiling(when):  # on a shared machine any one measurement may be low: the best is the ceiling
        say.doing = f"measuring the matmul ceiling ({when})"; ceils.append(matmul_ceiling(rt.device))
        say(f"matmul ceiling ({when}): bf16 {ceils[-1]['bf16']:.0f} GFLOP/s, fp32 {ceils[-1]['fp32']:.0f} GFLOP/s")
    ceiling('start')
    configs = [c for v in a.variants for c in (library(v, data, rt), *[library(v, data, rt, True)] * a.compile,
                                               usual(v, data, path, a.workers, rt.device))]
    run_rounds(configs, a, ceiling)
    best = {k: max(c[k] for c in ceils) for k in ('bf16', 'fp32')}
    cap = f", at most {a.max_seconds:g} s measured per configuration" if a.max_seconds else ''
    md = [head, '', f"matmul ceiling, best of {len(ceils)} measurements: **bf16 {best['bf16']:.0f} GFLOP/s**, fp32 "
          f"{best['fp32']:.0f} GFLOP/s · {a.warmup} warm-up step(s), then {a.steps} steps per configuration in "
          f"{a.rounds} interleaved round(s){cap}; img/s, data share (time getting the next batch / step time) and "
          f"% of ceiling from each configuration's best round · run took {(time.perf_counter() - say.t0) / 60:.1f} "
          "min", '', markdown(pd.DataFrame([row(v, configs, best, prec) for v in a.variants]))]
    report('\n'.join(md), a.out)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', help="Tiny-ImageNet-200 zip or folder, or 'synthetic' (default: $TINY_IMAGENET)")
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=VARIANTS)
    p.add_argument('--steps', type=int, default=30, help='measured steps per configuration, all rounds (default 30)')
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds; the best is reported (default 3)')
    p.add_argument('--warmup', type=int, default=5, help='unmeasured steps per configuration first (default 5)')
    p.add_argument('--max-seconds', type=float, default=45.0, help='cap per configuration; 0: none (default 45)')
    p.add_argument('--workers', type=int, default=2, help="(b)'s DataLoader workers (default 2)")
    p.add_argument('--device', default=None, help="'cpu', 'cuda' or auto (default)")
    p.add_argument('--compile', action='store_true', help='also time (a) under torch.compile: (c)')
    p.add_argument('--quick', action='store_true', help='1 warm-up step and 1 round of 2 steps: does it work?')
    p.add_argument('--out', help='also write the table (markdown) to this file')
    a = p.parse_args(argv)
    if a.quick: a.steps, a.rounds, a.warmup = 2, 1, 1
    if not 1 <= a.rounds <= a.steps: p.error('--rounds must be at least 1 and at most --steps')
    if min(a.warmup, a.workers, a.max_seconds) < 0: p.error('--warmup, --workers and --max-seconds must be ≥ 0')
    if needs_download(a.data): p.error("--data: give the archive, its folder or 'synthetic' (or set $TINY_IMAGENET)")
    check_markdown()
    try: rt = Runtime(a.device)
    except ValueError as e: p.error(f"--device: {e}")
    with tempfile.TemporaryDirectory(prefix='inductor-') as d:
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = d  # (c)'s warm-up: what a first `fit(..., compile=True)` pays
        try: measure(a, rt)
        except DataError as e: sys.exit(f"error: {e}")

if __name__ == '__main__': main()
