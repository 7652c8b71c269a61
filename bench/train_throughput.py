#!/usr/bin/env python
"""Training throughput of the project's loop against the idiomatic PyTorch loop, on the same Tiny-ImageNet-25 images.

In one run, on one machine, this measures images/s of complete training steps (batch preparation, forward,
backward, optimiser update) at batch size 128, after a few warm-up steps, for

(a) the project's loop, for each variant: `train_batches` (uint8 images held in memory, batched crop/flip and
    normalisation) feeding exactly the inner step of `resnet_study.train.fit` (autocast forward, cross-entropy,
    zero_grad, backward, SGD step, scheduler step) under `Runtime()` defaults (bf16 autocast and channels_last
    on a CPU with native bf16; CUDA when available);
(b) the idiomatic baseline: the same classes' training JPEGs extracted once to an ImageFolder tree in the cache
    folder, torchvision `ImageFolder` with per-sample RandomCrop(64, padding=4), RandomHorizontalFlip, ToTensor,
    Normalize(ImageNet mean/std), `DataLoader(batch_size=128, shuffle=True, num_workers=2)`, the same model
    (same initial weights, same optimiser) in eager fp32 NCHW;
(c) a matrix-multiply ceiling: the best achieved GFLOP/s of large square matmuls in bf16 and fp32, measured at the
    start and after every round (the best measurement is the ceiling);
(d) with `--compile`, the project's loop again with `torch.compile(model)`, exactly as `fit(..., compile=True)`
    runs it; its warm-up includes the compilation, whose time is reported;
(e) with `--profile`, where the project loop's step time goes (torch.profiler, self time per operator, grouped
    into convolutions, batch norm, ReLU and the rest), and what that implies for the bf16 target: the GFLOP/s the
    convolutions alone reach, and the share of the ceiling the step could reach if nothing but them took time.

Every configuration is warmed up first; then the measured steps are split into `--rounds` rounds, interleaved across
configurations, and each configuration reports its best round: on a shared machine other jobs come and go, and
interleaving plus best-of-rounds keeps a burst of someone else's load from landing on one configuration only.
The same `torch.set_num_threads(--threads)` (default: the cores available) holds for every configuration.
It prints one line per configuration and round as it goes, then a markdown table; `--out FILE.md` also writes it.

    .venv/bin/python bench/train_throughput.py [--data PATH] [--steps 30] [--warmup 5] [--threads N] [--out FILE.md]
    .venv/bin/python bench/train_throughput.py --compile --profile   # also (d) and (e)
    .venv/bin/python bench/train_throughput.py --quick          # a few steps per configuration, to check it works

Achieved training GFLOP/s = 3 × forward MACs × 2 FLOP/MAC × images/s (forward + backward ≈ 3 forward passes;
MACs from `resnet_study.metrics.count_macs`, i.e. thop: convolutions, linear, BN and pooling at 64×64).
The "data" share is the time spent obtaining the next batch (in the loop, i.e. waiting for it) over the whole
step time; for the project that is `train_batches` building the batch, for the baseline the wait on the
DataLoader's workers.
"""
from __future__ import annotations
import argparse, hashlib, os, shutil, sys, tempfile, time
from pathlib import Path
from unittest.mock import patch

import pandas as pd
import torch
import torch.nn.functional as F
from fastcore.basics import num_cpus

from resnet_study.core import Runtime, cache_dir, get_device, set_seed
from resnet_study.data import DataError, TinyImageNetArchive, archive_identity, resolve_data_path, select_classes
from resnet_study.batches import load_tiny_imagenet, train_batches, IMAGENET_MEAN, IMAGENET_STD
from resnet_study.model import MiniResNet, VARIANTS
from resnet_study.config import RunConfig
from resnet_study.metrics import count_macs
from resnet_study.train import make_optimizer, make_scheduler, make_step
from common import check_markdown, cpu_name, make_sync, markdown, matmul_ceiling, report

BATCH_SIZE = 128
N_CLASSES, CLASS_SEED = 25, 42


# ---------------------------------------------------------------------------------------------------- timing loop
class Bench:
    """One configuration: a `step(xb, yb)` fed by an endless batch iterator, timed per step and per round.
    Each timed step is: obtain the next batch (the data time), then `step` (the rest); on CUDA both are synchronised."""
    def __init__(self, kind, variant, step, batches, device):
        self.kind, self.variant, self.step, self.it, self.sync = kind, variant, step, batches, make_sync(device)
        self.rounds = []  # per round: (images, seconds, data seconds, steps)

    def _one(self):
        self.sync(); t0 = time.perf_counter()
        xb, yb = next(self.it)
        self.sync(); t1 = time.perf_counter()
        self.step(xb, yb)
        self.sync(); t2 = time.perf_counter()
        return len(yb), t2 - t0, t1 - t0

    def warm(self, steps, max_seconds):
        "Unmeasured steps: `steps`, or fewer (at least 2) once `max_seconds` have passed."
        t0 = time.perf_counter()
        for i in range(steps):
            self._one()
            if max_seconds and i >= 1 and time.perf_counter() - t0 > max_seconds: break

    def measure(self, steps, max_seconds):
        "One round: `steps` timed steps, or fewer (at least 2) once `max_seconds` of them have passed."
        n = t = d = 0.0; k = 0
        for k in range(1, steps + 1):
            a, b, c = self._one(); n += a; t += b; d += c
            if max_seconds and k >= 2 and t > max_seconds: break
        self.rounds.append((n, t, d, k))
        return n / t

    @property
    def best(self): return max(self.rounds, key=lambda r: r[0] / r[1])
    @property
    def img_per_s(self): n, t, _, _ = self.best; return n / t
    @property
    def data_share(self): _, t, d, _ = self.best; return d / t
    @property
    def step_ms(self): n, t, _, k = self.best; return 1e3 * t / k
    @property
    def data_ms(self): _, _, d, k = self.best; return 1e3 * d / k
    @property
    def n_steps(self): return sum(r[3] for r in self.rounds)
    @property
    def all_img_per_s(self): return [r[0] / r[1] for r in self.rounds]
    @property
    def mean_img_per_s(self): return sum(r[0] for r in self.rounds) / sum(r[1] for r in self.rounds)


def forever(make_iter):
    "Batches across epoch boundaries: `make_iter(epoch)` gives one epoch's iterator."
    epoch = 0
    while True:
        for b in make_iter(epoch): yield b
        epoch += 1


# ---------------------------------------------------------------------------------------------------- (a) project
def project_bench(variant, data, args, compiled=False) -> Bench:
    """The inner loop of `resnet_study.train.fit` (`make_step`: its `train_step` and running sums) under `Runtime()` defaults;
    `compiled`: through `torch.compile(model)`, as `fit(..., compile=True)` does."""
    rt = Runtime(args.device)
    set_seed(args.seed)
    model = rt.prepare(MiniResNet(variant, num_classes=len(data.classes)))
    trn = train_batches(data, BATCH_SIZE, seed=args.seed, augment=RunConfig.augment, device=rt.device,
                        memory_format=rt.memory_format)
    lr = RunConfig.lr
    opt = make_optimizer(model, lr)
    sched = make_scheduler(opt, RunConfig.schedule, lr, RunConfig.epochs * len(trn), RunConfig.warmup)
    model.train()
    step_model = torch.compile(model) if compiled else model
    step, stats = make_step(step_model, opt, sched, rt, rt.grad_scaler(), RunConfig.label_smoothing)  # fit's batch loop body itself
    b = Bench('compiled' if compiled else 'project', variant, step, forever(lambda e: trn.set_epoch(e)), rt.device)
    b.finite = stats.finite  # checked once at the end, as fit checks once per epoch
    return b


# ---------------------------------------------------------------------------------------------------- (b) baseline
def imagefolder_root(data_path, classes) -> Path:
    """The training JPEGs of `classes`, extracted once (bytes as stored, not re-encoded) into an ImageFolder tree
    under the cache folder: written into a temporary folder beside it and renamed when complete; reused if present."""
    key = hashlib.sha1(repr((archive_identity(data_path), tuple(classes))).encode()).hexdigest()[:16]
    root = cache_dir()/'imagefolder'/f'tiny-{len(classes)}c-train-{key}'
    if root.is_dir(): return root
    archive = TinyImageNetArchive(data_path)
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f'.{root.name}.*.tmp'):  # left by a killed run (not one extracting right now)
        if time.time() - stale.stat().st_mtime > 3600: shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{root.name}.', suffix='.tmp', dir=root.parent))
    try:
        t0, n = time.perf_counter(), 0
        for c in classes:
            (tmp/c).mkdir()
            for f in archive.files(f'train/{c}/images'):
                (tmp/c/f.rsplit('/', 1)[-1]).write_bytes(archive.read(f)); n += 1
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        try: os.rename(tmp, root)
        except OSError:  # another run finished first: keep its tree
            if not root.is_dir(): raise
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"extracted {n} training images of {len(classes)} classes to {root} in {time.perf_counter() - t0:.1f}s", flush=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def baseline_dataset(root, data):
    from torchvision import datasets, transforms
    tfm = transforms.Compose([transforms.RandomCrop(64, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                              transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    ds = datasets.ImageFolder(str(root), transform=tfm)
    if ds.classes != list(data.classes) or len(ds) != len(data.train_y):
        raise DataError(f"{root} does not hold the same images as the project's data ({len(ds)} images of {len(ds.classes)} "
                        f"classes vs {len(data.train_y)} of {len(data.classes)}): delete it and rerun")
    return ds


def baseline_bench(variant, ds, args) -> Bench:
    "The loop most people would write: DataLoader with 2 workers, eager fp32 NCHW."
    from torch.utils.data import DataLoader
    device = get_device(args.device)
    set_seed(args.seed)  # same initial weights as the project's model of this variant
    model = MiniResNet(variant, num_classes=len(ds.classes)).to(device)
    opt = make_optimizer(model, RunConfig.lr)
    model.train()
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(ds, batch_size=BATCH_SIZE, shuffle=True, num_workers=args.workers, drop_last=True, generator=g,
                        pin_memory=device.type == 'cuda')

    def step(x, y):
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return Bench('baseline', variant, step, forever(lambda e: loader), device)


# ---------------------------------------------------------------------------------------------------- (e) profile
PROFILE_GROUPS = ('convolution forward', 'convolution backward', 'batch norm (fwd + bwd)', 'ReLU (fwd + bwd)', 'everything else')

def op_group(name) -> str:
    "The group of an aten operator's self time."
    n = name.lower()
    if 'convolution' in n: return PROFILE_GROUPS[1] if 'backward' in n else PROFILE_GROUPS[0]
    if 'batch_norm' in n: return PROFILE_GROUPS[2]
    if any(k in n for k in ('relu', 'clamp_min', 'threshold_backward')): return PROFILE_GROUPS[3]
    return PROFILE_GROUPS[4]

def profile_step(b: Bench, steps) -> dict:
    """Self CPU time per group over `steps` training steps of `b` (batches prepared beforehand, so only the step is
    profiled), as shares of their total, and the total per step in ms."""
    from torch.profiler import profile, ProfilerActivity
    batches = [next(b.it) for _ in range(steps)]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for xb, yb in batches: b.step(xb, yb)
    t = dict.fromkeys(PROFILE_GROUPS, 0.0)
    for e in prof.key_averages():
        if e.key.startswith('aten::'): t[op_group(e.key)] += e.self_cpu_time_total
    total = sum(t.values())
    return dict(shares={k: v / total for k, v in t.items()}, ms_per_step=total / 1e3 / steps)


# ---------------------------------------------------------------------------------------------------- table
NA = '—'

def gflops(macs, b: Bench) -> float:
    "Training GFLOP/s of `b`'s best round: forward and backward ≈ 3 forward passes, 2 FLOP per multiply-accumulate."
    return 6 * macs * b.img_per_s / 1e9

def _range(b): return '–'.join(f'{x:.0f}' for x in (min(b.all_img_per_s), max(b.all_img_per_s)))

def _fmt(b, f):
    "`f(b)` where configuration `b` was measured, a dash where it was not."
    return NA if b is None else f(b)

def throughput_row(r, ceil) -> dict:
    "(a) against (b) for one variant."
    p, b, macs = r.get('project'), r.get('baseline'), r['macs']
    return {'variant': f"`{r['variant']}`", 'fwd MMAC/img': f"{macs / 1e6:.0f}",
            'project img/s': _fmt(p, lambda p: f"{p.img_per_s:.1f}"), 'baseline img/s': _fmt(b, lambda b: f"{b.img_per_s:.1f}"),
            'ratio (a)/(b)': f"**{p.img_per_s / b.img_per_s:.2f}×**" if p and b else NA,
            'data share (a)': _fmt(p, lambda p: f"{100 * p.data_share:.1f}%"), 'data wait (b)': _fmt(b, lambda b: f"{100 * b.data_share:.1f}%"),
            'project GFLOP/s': _fmt(p, lambda p: f"{gflops(macs, p):.0f}"),
            '% of bf16 ceiling': _fmt(p, lambda p: f"{100 * gflops(macs, p) / ceil['bf16']:.0f}%"),
            'baseline GFLOP/s': _fmt(b, lambda b: f"{gflops(macs, b):.0f}"),
            '% of fp32 ceiling': _fmt(b, lambda b: f"{100 * gflops(macs, b) / ceil['fp32']:.0f}%"),
            'rounds (a) img/s': _fmt(p, _range), 'rounds (b) img/s': _fmt(b, _range),
            'steps (a)/(b)': f"{_fmt(p, lambda p: p.n_steps)}/{_fmt(b, lambda b: b.n_steps)}"}

def compile_row(r, ceil) -> dict:
    "(d) against (a) for one variant."
    p, c, macs = r['project'], r['compiled'], r['macs']
    return {'variant': f"`{r['variant']}`", 'eager img/s': f"{p.img_per_s:.1f}", 'compiled img/s': f"{c.img_per_s:.1f}",
            'speed-up': f"**{c.img_per_s / p.img_per_s:.2f}×**", 'compiled GFLOP/s': f"{gflops(macs, c):.0f}",
            '% of bf16 ceiling': f"{100 * gflops(macs, c) / ceil['bf16']:.0f}%",
            'warm-up incl. compilation (empty cache)': f"{c.warm_s:.0f} s", 'rounds (d) img/s': _range(c)}

def profile_row(r, ceil) -> dict:
    "(e) for one variant: its step's time by operator group, and what the convolutions alone reach."
    pr, p, macs = r['profile'], r['project'], r['macs']
    gf_conv = gflops(macs, p) / (pr['shares'][PROFILE_GROUPS[0]] + pr['shares'][PROFILE_GROUPS[1]])
    return {'variant': f"`{r['variant']}`", **{g: f"{100 * pr['shares'][g]:.0f}%" for g in PROFILE_GROUPS},
            'profiled ms/step': f"{pr['ms_per_step']:.0f}", 'convolutions alone GFLOP/s': f"{gf_conv:.0f}",
            'bound: % of bf16 ceiling if only convolutions took time': f"{100 * gf_conv / ceil['bf16']:.0f}%"}

def table(row, rows, ceil, needs=()) -> str:
    "The markdown table of `row(r, ceil)` for every variant `r` that has all of `needs`."
    return markdown(pd.DataFrame([row(r, ceil) for r in rows if all(r.get(k) is not None for k in needs)]))


# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', help='Tiny-ImageNet-200 zip or folder (default: $TINY_IMAGENET)')
    p.add_argument('--steps', type=int, default=30, help='measured steps per configuration, over all rounds (default 30)')
    p.add_argument('--rounds', type=int, default=3, help='interleaved measuring rounds; each configuration reports its best round (default 3)')
    p.add_argument('--warmup', type=int, default=5, help='unmeasured warm-up steps per configuration (default 5)')
    p.add_argument('--max-seconds', type=float, default=45.0,
                   help='time cap per configuration: measured seconds over all rounds (at least 2 steps a round), '
                        'and at most half of it for warm-up (at least 2 steps); 0: no cap (default 45)')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=VARIANTS, help='variants for the project loop')
    p.add_argument('--baseline-variants', nargs='*', default=None, choices=VARIANTS,
                   help='variants for the baseline loop (default: the same as --variants; none: no baseline)')
    p.add_argument('--threads', type=int, default=num_cpus(),
                   help=f'torch.set_num_threads for the main process, for every configuration (default: the cores available, {num_cpus()})')
    p.add_argument('--workers', type=int, default=2, help='DataLoader workers of the baseline (default 2)')
    p.add_argument('--device', default=None, help="'cpu', 'cuda' or auto (default)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='also write the table (markdown) to this file')
    p.add_argument('--compile', action='store_true', help='also measure the project loop under torch.compile (d)')
    p.add_argument('--profile', type=int, nargs='?', const=5, default=0, metavar='STEPS',
                   help='also profile STEPS (default 5) steps of the project loop per variant, CPU only (e)')
    p.add_argument('--quick', action='store_true', help='1 warm-up step and 1 round of 2 measured steps per configuration, to check that it works')
    a = p.parse_args(argv)
    if a.quick: a.steps, a.rounds, a.warmup, a.max_seconds, a.profile = 2, 1, 1, 0, min(a.profile, 1)
    for k in ('steps', 'rounds', 'threads'):
        if getattr(a, k) < 1: p.error(f"--{k} must be ≥ 1")
    if a.rounds > a.steps: p.error('--rounds must not exceed --steps')
    if a.warmup < 0 or a.workers < 0 or a.max_seconds < 0 or a.profile < 0: p.error('--warmup, --workers, --max-seconds and --profile must be ≥ 0')
    if a.baseline_variants is None: a.baseline_variants = list(a.variants)
    return a


def main(argv=None):
    args = parse_args(argv)
    check_markdown()
    if not args.compile: return _main(args)
    # an empty compilation cache, so that (d)'s warm-up shows what a first `fit(..., compile=True)` pays
    with tempfile.TemporaryDirectory(prefix='inductor-cache-') as d, patch.dict(os.environ, TORCHINDUCTOR_CACHE_DIR=d):
        return _main(args)


def _main(args):
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    el = lambda: f'[{time.perf_counter() - t_start:.0f}s]'
    try: data_path = resolve_data_path(args.data) if (args.data or os.environ.get('TINY_IMAGENET')) else None
    except DataError as e: sys.exit(f"error: {e}")
    if data_path is None:
        sys.exit("error: no data: pass --data /path/to/tiny-imagenet-200.zip (or its extracted folder), or set $TINY_IMAGENET")
    torch.set_num_threads(args.threads)
    try: device = get_device(args.device)
    except ValueError as e: sys.exit(f"error: {e}")
    if args.profile and device.type != 'cpu': sys.exit(f"error: --profile groups CPU operator time; it does not apply to device {device}")
    rt = Runtime(device)

    try: data = load_tiny_imagenet(data_path, n_classes=N_CLASSES, class_seed=CLASS_SEED)
    except DataError as e: sys.exit(f"error: {e}")
    header = (f"torch {torch.__version__} · {cpu_name()} · {num_cpus()} cores · torch.set_num_threads({torch.get_num_threads()}) "
              f"in the main process, DataLoader workers {args.workers} × 1 thread · device {device}"
              + (f" ({torch.cuda.get_device_name(device)})" if device.type == 'cuda' else '')
              + f" · project runtime {rt.precision} autocast, channels_last={rt.channels_last} · batch {BATCH_SIZE} · "
              f"{len(data.train_y)} train images of {len(data.classes)} classes (class_seed {CLASS_SEED})")
    print(header, flush=True)

    ceils = []  # measured at the start, after every round and at the end: on a shared machine any one may be low
    def ceiling(when):
        ceils.append(matmul_ceiling(device))
        print(f"matmul ceiling ({when}): bf16 {ceils[-1]['bf16']:.0f} GFLOP/s, fp32 {ceils[-1]['fp32']:.0f} GFLOP/s {el()}", flush=True)
    ceiling('start')

    ds = None
    if args.baseline_variants:
        if select_classes(TinyImageNetArchive(data_path).text('wnids.txt').split(), N_CLASSES, CLASS_SEED) != list(data.classes):
            sys.exit(f"error: the decoded data's classes differ from the archive's class_seed {CLASS_SEED} draw")
        ds = baseline_dataset(imagefolder_root(data_path, data.classes), data)

    order = list(dict.fromkeys(args.variants + args.baseline_variants))
    benches = []
    for v in order:  # for each variant the project's loop, then the baseline's
        if v in args.variants: benches.append(project_bench(v, data, args))
        if v in args.variants and args.compile: benches.append(project_bench(v, data, args, compiled=True))
        if v in args.baseline_variants: benches.append(baseline_bench(v, ds, args))
    tag = lambda b: f"({dict(project='a', baseline='b', compiled='d')[b.kind]}) {b.kind:8s} {b.variant:16s}"
    for b in benches:
        t0 = time.perf_counter()
        b.warm(max(args.warmup, 2) if b.kind == 'compiled' else args.warmup, args.max_seconds / 2)
        b.warm_s = time.perf_counter() - t0
        print(f"{tag(b)} warmed up in {b.warm_s:5.1f}s {el()}", flush=True)
    per_round = [args.steps // args.rounds + (i < args.steps % args.rounds) for i in range(args.rounds)]
    for i, n in enumerate(per_round):
        for b in benches:
            ips = b.measure(n, args.max_seconds / args.rounds)
            _, t, d, k = b.rounds[-1]
            print(f"round {i + 1}/{args.rounds} {tag(b)} {ips:7.1f} img/s  step {1e3 * t / k:7.1f} ms  "
                  f"{'data wait' if b.kind == 'baseline' else 'data'} {1e3 * d / k:6.1f} ms ({100 * d / t:4.1f}%)  {k} steps {el()}", flush=True)
        ceiling(f'after round {i + 1}')

    profiles = {}
    for b in benches:
        if args.profile and b.kind == 'project':
            profiles[b.variant] = profile_step(b, args.profile)
            print(f"(e) profiled {args.profile} step(s) of {b.variant}: " + ', '.join(
                f"{g} {100 * x:.0f}%" for g, x in profiles[b.variant]['shares'].items()) + f" {el()}", flush=True)
    ceil = {k: max(c[k] for c in ceils) for k in ('bf16', 'fp32')}
    lo = {k: min(c[k] for c in ceils) for k in ('bf16', 'fp32')}

    for b in benches:
        if not getattr(b, 'finite', lambda: True)(): sys.exit(f"error: the project loop diverged (non-finite loss) for {b.variant}")
    rows = []
    for v in order:
        r = dict(variant=v, macs=count_macs(MiniResNet(v)))
        for b in benches:
            if b.variant == v: r[b.kind] = b
        if v in profiles: r['profile'] = profiles[v]
        rows.append(r)
    wall = time.perf_counter() - t_start
    load1 = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    md = '\n'.join([
        header, '',
        f"matmul ceiling (best of square {'4096/8192' if device.type == 'cuda' else '2048/4096'} matmuls, 5 repeats each, "
        f"measured {len(ceils)}× in the run: at the start and after every round): **bf16 {ceil['bf16']:.0f} GFLOP/s**, "
        f"fp32 {ceil['fp32']:.0f} GFLOP/s (lowest measurement: bf16 {lo['bf16']:.0f}, fp32 {lo['fp32']:.0f}) · "
        f"{args.warmup} warm-up step(s), then {args.steps} measured steps per configuration in {args.rounds} interleaved round(s)"
        + (f", at most {args.max_seconds:.0f} s measured per configuration" if args.max_seconds else '')
        + f"; each configuration's best round is reported · run took {wall / 60:.1f} min · 1-min load average "
        f"{load0:.1f} at the start, {load1:.1f} at the end (this run alone accounts for about {args.threads}; "
        f"more means other jobs shared the {num_cpus()} cores)", '',
        table(throughput_row, rows, ceil), '',
        "(a) project loop: `train_batches` + the step of `fit` (autocast forward, cross-entropy, zero_grad, backward, SGD, "
        "scheduler). (b) ImageFolder + per-sample RandomCrop(64, padding=4)/RandomHorizontalFlip/ToTensor/Normalize + "
        f"DataLoader(batch_size=128, shuffle=True, num_workers={args.workers}), eager fp32 NCHW, same initial weights and optimiser. "
        "img/s, data share and GFLOP/s are from each configuration's best round; \"rounds\" gives the worst–best round. "
        "Data share: time obtaining the next batch / whole step time. GFLOP/s = 3 × forward MACs (thop) × 2 FLOP/MAC × img/s."]
        + (['', '(d) The project loop under `torch.compile(model)` (inductor), as `fit(..., compile=True)` runs it, against (a) in the same rounds:', '',
            table(compile_row, rows, ceil, needs=('compiled',))] if args.compile else [])
        + (['', f"(e) Where (a)'s step time goes: torch.profiler self CPU time of the aten operators over {args.profile} step(s) "
            "per variant, grouped by operator name (\"everything else\": the residual adds, the loss, the optimiser, copies). "
            "\"Convolutions alone\" = the step's FLOPs (as above) / the convolutions' share of the best round's step time; the "
            "bound is that over the bf16 ceiling: what the step would reach if batch norm, ReLU and the rest cost nothing.", '',
            table(profile_row, rows, ceil, needs=('profile',))] if args.profile else []))
    report(md, args.out)
    return rows


if __name__ == '__main__':
    main()
