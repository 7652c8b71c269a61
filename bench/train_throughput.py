#!/usr/bin/env python
"""Training speed of the project's loop against the usual PyTorch loop, on the same Tiny-ImageNet-25 images.

It times whole training steps at batch 128 (getting the next batch, forward, backward, update) of
(a) the project's loop, for each variant: `train_batches` feeding the step of `resnet_study.train.fit` itself
    (`make_step`) under the runtime's defaults (bf16 autocast and channels_last on a CPU with bf16 instructions,
    fp32 on any other; CUDA where there is one);
(b) the usual loop: the same images as JPEG files, torchvision `ImageFolder` with per-sample RandomCrop(64,
    padding=4), RandomHorizontalFlip, ToTensor and Normalize, `DataLoader(shuffle=True, num_workers=2)`, the same
    model, initial weights and optimiser, in eager fp32 NCHW;
(c) a matmul ceiling: the best GFLOP/s of square matmuls in bf16 and fp32, at the start and after every round;
(d) with `--compile`, (a) under `torch.compile(model)`, as `fit(..., compile=True)` runs it, from an empty cache;
(e) with `--profile`, where (a)'s step time goes: torch.profiler's self time per operator, in groups.

Each configuration warms up, then its measured steps run in `--rounds` rounds interleaved across configurations,
and its best round is reported: on a shared machine a burst of other jobs' load then falls on no configuration
alone. `--max-seconds` caps each configuration: half of it for the warm-up, all of it for the rounds together (a
step already running finishes, and each configuration measures at least one step). It prints a line per
configuration and round, and one at least every 30 s, then the tables; `--out FILE.md` keeps them.

    .venv/bin/python bench/train_throughput.py [--data PATH|synthetic] [--steps 30] [--rounds 3] [--out FILE.md]
    .venv/bin/python bench/train_throughput.py --compile --profile   # also (d) and (e)
    .venv/bin/python bench/train_throughput.py --data synthetic --quick   # a few steps each, to check that it works

GFLOP/s = 3 × forward MACs (`resnet_study.metrics.count_macs`) × 2 FLOP/MAC × img/s (a backward pass costs about
two forward ones). The data share is the time spent getting the next batch over the whole step: for (a),
`train_batches` building it; for (b), the wait on the DataLoader's workers.
"""
from __future__ import annotations
import argparse, hashlib, os, shutil, sys, tempfile, threading, time
from pathlib import Path
from unittest.mock import patch

import pandas as pd
import torch
import torch.nn.functional as F
from fastcore.basics import num_cpus

from resnet_study.core import Runtime, cache_dir, get_device, set_seed
from resnet_study.data import DataError, TinyImageNetArchive, archive_identity, resolve_data_path
from resnet_study.batches import load_tiny_imagenet, train_batches, IMAGENET_MEAN, IMAGENET_STD
from resnet_study.model import MiniResNet, VARIANTS
from resnet_study.config import RunConfig
from resnet_study.metrics import count_macs
from resnet_study.train import make_optimizer, make_scheduler, make_step
from common import ceiling_sizes, check_markdown, cpu_name, make_sync, markdown, matmul_ceiling, report

BATCH, N_CLASSES, CLASS_SEED = 128, 25, 42
HEARTBEAT_S = 30  # the longest the script stays silent


# ---------------------------------------------------------------------------------------------------- progress
class Say:
    "Print a line with the seconds since the start; while nothing is printed, say every `HEARTBEAT_S` what runs."
    def __init__(self):
        self.t0 = self.last = time.perf_counter(); self.doing = 'starting'
        threading.Thread(target=self._beat, daemon=True).start()
    def __call__(self, msg):
        print(f"{msg} [{time.perf_counter() - self.t0:.0f}s]", flush=True); self.last = time.perf_counter()
    def _beat(self):
        while True:
            time.sleep(1)
            if time.perf_counter() - self.last >= HEARTBEAT_S: self(f"... {self.doing}")

say = Say()


# ---------------------------------------------------------------------------------------------------- timing
class Config:
    "One configuration: `step(xb, yb)` fed by the endless batches `it`; its rounds as (images, s, data s, steps)."
    def __init__(self, kind, variant, step, it, device, finite=None):
        self.kind, self.variant, self.step, self.it, self.finite = kind, variant, step, it, finite
        self.sync, self.rounds, self.warm_s = make_sync(device), [], 0.0
        self.name = f"({dict(project='a', baseline='b', compiled='d')[kind]}) {kind:8s} {variant:16s}"

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

    @property
    def best(self): return max(self.rounds, key=lambda r: r[0] / r[1])
    def ips(self, r=None): n, t, _, _ = r or self.best; return n / t
    def data_share(self): _, t, d, _ = self.best; return d / t
    def ips_range(self): return '–'.join(f'{f(map(self.ips, self.rounds)):.0f}' for f in (min, max))


def forever(epoch_batches):
    "Batches across epoch boundaries: `epoch_batches(epoch)` iterates over one epoch."
    for epoch in range(sys.maxsize): yield from epoch_batches(epoch)


def project(variant, data, args, compiled=False) -> Config:
    "(a), or (d) when `compiled`: the step of `fit` (`make_step`) on `train_batches`, with `fit`'s defaults."
    rt = Runtime(args.device); set_seed(args.seed)
    model = rt.prepare(MiniResNet(variant, num_classes=len(data.classes))).train()
    trn = train_batches(data, BATCH, seed=args.seed, augment=RunConfig.augment, device=rt.device,
                        memory_format=rt.memory_format)
    opt = make_optimizer(model, RunConfig.lr)
    sched = make_scheduler(opt, RunConfig.schedule, RunConfig.lr, RunConfig.epochs * len(trn), RunConfig.warmup)
    step, stats = make_step(torch.compile(model) if compiled else model, opt, sched, rt, rt.grad_scaler(),
                            RunConfig.label_smoothing)
    return Config('compiled' if compiled else 'project', variant, step, forever(trn.set_epoch), rt.device, stats.finite)


# ---------------------------------------------------------------------------------------------------- (b) baseline
def imagefolder_root(data_path, classes) -> Path:
    """The training JPEGs of `classes` as stored in the archive, extracted once into an ImageFolder tree in the cache
    folder (into a temporary folder beside it, renamed when complete) and reused."""
    key = hashlib.sha1(repr((archive_identity(data_path), tuple(classes))).encode()).hexdigest()[:16]
    root = cache_dir()/'imagefolder'/f'tiny-{len(classes)}c-train-{key}'
    if root.is_dir(): return root
    archive, n = TinyImageNetArchive(data_path), 0
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f'.{root.name}.*.tmp'):  # left by a killed run, not one extracting right now
        if time.time() - stale.stat().st_mtime > 3600: shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{root.name}.', suffix='.tmp', dir=root.parent))
    try:
        for c in classes:
            say.doing = f"extracting the training JPEGs for (b): {n} so far"
            (tmp/c).mkdir()
            for f in archive.files(f'train/{c}/images'):
                (tmp/c/f.rsplit('/', 1)[-1]).write_bytes(archive.read(f)); n += 1
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        try: os.rename(tmp, root)
        except OSError:  # another run finished first: keep its tree
            if not root.is_dir(): raise
    finally: shutil.rmtree(tmp, ignore_errors=True)
    say(f"extracted {n} training images of {len(classes)} classes to {root}")
    return root


def baseline(variant, data, data_path, args) -> Config:
    "(b): the loop most people would write, on the same images, model and optimiser: a DataLoader, eager fp32 NCHW."
    from torchvision import datasets, transforms
    from torch.utils.data import DataLoader
    tfm = transforms.Compose([transforms.RandomCrop(64, padding=4), transforms.RandomHorizontalFlip(),
                              transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    root = imagefolder_root(data_path, data.classes)
    ds = datasets.ImageFolder(str(root), transform=tfm)
    if ds.classes != list(data.classes) or len(ds) != len(data.train_y):
        sys.exit(f"error: {root} does not hold the project's {len(data.train_y)} images of {len(data.classes)} "
                 f"classes ({len(ds)} of {len(ds.classes)}): delete it and rerun")
    device = get_device(args.device); set_seed(args.seed)  # the same initial weights as (a)
    model = MiniResNet(variant, num_classes=len(ds.classes)).to(device).train()
    opt = make_optimizer(model, RunConfig.lr)
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=args.workers, drop_last=True,
                        generator=torch.Generator().manual_seed(args.seed), pin_memory=device.type == 'cuda')
    def step(x, y):
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad(); loss.backward(); opt.step()
    return Config('baseline', variant, step, forever(lambda e: loader), device)


# ---------------------------------------------------------------------------------------------------- (e) profile
GROUPS = ('convolution forward', 'convolution backward', 'batch norm (fwd + bwd)', 'ReLU (fwd + bwd)',
          'everything else')

def op_group(name) -> str:
    "The group of an aten operator."
    n = name.lower()
    if 'convolution' in n: return GROUPS[1] if 'backward' in n else GROUPS[0]
    if 'batch_norm' in n: return GROUPS[2]
    return GROUPS[3] if any(k in n for k in ('relu', 'clamp_min', 'threshold_backward')) else GROUPS[4]

def profile(c: Config, steps) -> dict:
    "Self CPU time per group over `steps` steps of `c` (batches made beforehand), as shares, and ms per step."
    from torch.profiler import profile, ProfilerActivity
    batches = [next(c.it) for _ in range(steps)]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for xb, yb in batches: c.step(xb, yb)
    t = dict.fromkeys(GROUPS, 0.0)
    for e in prof.key_averages():
        if e.key.startswith('aten::'): t[op_group(e.key)] += e.self_cpu_time_total
    return dict(shares={k: v / sum(t.values()) for k, v in t.items()}, ms_per_step=sum(t.values()) / 1e3 / steps)


# ---------------------------------------------------------------------------------------------------- tables
NA = '—'
load = lambda: os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')  # the 1-minute load average

def gflops(macs, c) -> float: return 6 * macs * c.ips() / 1e9
def _if(c, f): return NA if c is None else f(c)

def throughput_row(r, ceil) -> dict:
    "(a) against (b) for one variant."
    p, b, macs = r.get('project'), r.get('baseline'), r['macs']
    return {'variant': f"`{r['variant']}`", 'fwd MMAC/img': f"{macs / 1e6:.0f}",
            'project img/s': _if(p, lambda p: f"{p.ips():.1f}"), 'baseline img/s': _if(b, lambda b: f"{b.ips():.1f}"),
            'ratio (a)/(b)': f"**{p.ips() / b.ips():.2f}×**" if p and b else NA,
            'data share (a)': _if(p, lambda p: f"{100 * p.data_share():.1f}%"),
            'data wait (b)': _if(b, lambda b: f"{100 * b.data_share():.1f}%"),
            'project GFLOP/s': _if(p, lambda p: f"{gflops(macs, p):.0f}"),
            '% of bf16 ceiling': _if(p, lambda p: f"{100 * gflops(macs, p) / ceil['bf16']:.0f}%"),
            'baseline GFLOP/s': _if(b, lambda b: f"{gflops(macs, b):.0f}"),
            '% of fp32 ceiling': _if(b, lambda b: f"{100 * gflops(macs, b) / ceil['fp32']:.0f}%"),
            'rounds (a) img/s': _if(p, Config.ips_range), 'rounds (b) img/s': _if(b, Config.ips_range),
            'steps (a)/(b)': '/'.join(_if(c, lambda c: str(sum(r[3] for r in c.rounds))) for c in (p, b))}

def compile_row(r, ceil) -> dict:
    "(d) against (a) for one variant."
    p, c, macs = r['project'], r['compiled'], r['macs']
    return {'variant': f"`{r['variant']}`", 'eager img/s': f"{p.ips():.1f}", 'compiled img/s': f"{c.ips():.1f}",
            'speed-up': f"**{c.ips() / p.ips():.2f}×**", 'compiled GFLOP/s': f"{gflops(macs, c):.0f}",
            '% of bf16 ceiling': f"{100 * gflops(macs, c) / ceil['bf16']:.0f}%",
            'warm-up incl. compilation (empty cache)': f"{c.warm_s:.0f} s", 'rounds (d) img/s': c.ips_range()}

def profile_row(r, ceil) -> dict:
    "(e) for one variant: its step's time by group, and what the convolutions alone reach."
    pr, macs = r['profile'], r['macs']
    conv = gflops(macs, r['project']) / (pr['shares'][GROUPS[0]] + pr['shares'][GROUPS[1]])
    return {'variant': f"`{r['variant']}`", **{g: f"{100 * pr['shares'][g]:.0f}%" for g in GROUPS},
            'profiled ms/step': f"{pr['ms_per_step']:.0f}", 'convolutions alone GFLOP/s': f"{conv:.0f}",
            'bound: % of bf16 ceiling if only convolutions took time': f"{100 * conv / ceil['bf16']:.0f}%"}

def table(row, rows, ceil, needs=()) -> str:
    "The markdown table of `row(r, ceil)` for each variant's `r` that has all of `needs`."
    return markdown(pd.DataFrame([row(r, ceil) for r in rows if all(r.get(k) is not None for k in needs)]))

NOTES = dict(
    a="(a) project loop: `train_batches` + the step of `fit` (autocast forward, cross-entropy, zero_grad, backward, "
      "SGD, scheduler). (b) ImageFolder + per-sample RandomCrop(64, padding=4)/RandomHorizontalFlip/ToTensor/"
      "Normalize + DataLoader(batch_size=128, shuffle=True, num_workers={workers}), eager fp32 NCHW, same initial "
      "weights and optimiser. img/s, data share and GFLOP/s are from each configuration's best round; \"rounds\" "
      "gives the worst–best round. Data share: time obtaining the next batch / whole step time. GFLOP/s = 3 × "
      "forward MACs (thop) × 2 FLOP/MAC × img/s.",
    d="(d) The project loop under `torch.compile(model)` (inductor), as `fit(..., compile=True)` runs it, against "
      "(a) in the same rounds:",
    e="(e) Where (a)'s step time goes: torch.profiler self CPU time of the aten operators over {profile} step(s) per "
      "variant, grouped by operator name (\"everything else\": the residual adds, the loss, the optimiser, copies). "
      "\"Convolutions alone\" = the step's FLOPs (as above) / the convolutions' share of the best round's step "
      "time; the bound is that over the bf16 ceiling: what the step would reach if batch norm, ReLU and the rest "
      "cost nothing.")


# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', help="Tiny-ImageNet-200 zip or folder, or 'synthetic' (default: $TINY_IMAGENET)")
    p.add_argument('--steps', type=int, default=30, help='measured steps per configuration, all rounds (default 30)')
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds; the best one is reported (default 3)')
    p.add_argument('--warmup', type=int, default=5, help='unmeasured steps per configuration first (default 5)')
    p.add_argument('--max-seconds', type=float, default=45.0,
                   help='cap per configuration: its measured seconds, all rounds, and half of it for the warm-up; '
                        '0: no cap (default 45)')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=VARIANTS, help='variants for (a)')
    p.add_argument('--baseline-variants', nargs='*', default=None, choices=VARIANTS,
                   help='variants for (b) (default: those of --variants; none: no baseline)')
    p.add_argument('--threads', type=int, default=num_cpus(),
                   help=f'torch.set_num_threads for every configuration (default: the cores, {num_cpus()})')
    p.add_argument('--workers', type=int, default=2, help="(b)'s DataLoader workers (default 2)")
    p.add_argument('--device', default=None, help="'cpu', 'cuda' or auto (default)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='also write the tables (markdown) to this file')
    p.add_argument('--compile', action='store_true', help='also measure (a) under torch.compile: (d)')
    p.add_argument('--profile', type=int, nargs='?', const=5, default=0, metavar='STEPS',
                   help="also profile STEPS (default 5) of (a)'s steps per variant, CPU only: (e)")
    p.add_argument('--quick', action='store_true', help='1 warm-up step and 1 round of 2 steps, to check that it works')
    a = p.parse_args(argv)
    if a.quick: a.steps, a.rounds, a.warmup, a.profile = 2, 1, 1, min(a.profile, 1)
    if min(a.steps, a.rounds, a.threads) < 1: p.error("--steps, --rounds and --threads must be at least 1")
    if a.rounds > a.steps: p.error('--rounds must not exceed --steps')
    if min(a.warmup, a.workers, a.max_seconds, a.profile) < 0:
        p.error('--warmup, --workers, --max-seconds and --profile must be at least 0')
    if a.baseline_variants is None: a.baseline_variants = list(a.variants)
    return a


def setup(args):
    "The data path, device and decoded images the arguments name; one line and exit 1 if any is wrong."
    torch.set_num_threads(args.threads)
    if not (args.data or os.environ.get('TINY_IMAGENET')):
        sys.exit("error: no data: pass --data /path/to/tiny-imagenet-200.zip (or its folder, or 'synthetic'), "
                 "or set $TINY_IMAGENET")
    try:
        path, device = resolve_data_path(args.data), get_device(args.device)
        if args.profile and device.type != 'cpu': raise ValueError(f"--profile times CPU operators, not {device}'s")
        n = min(N_CLASSES, len(TinyImageNetArchive(path).text('wnids.txt').split()))  # 'synthetic' has 8
        say.doing = f"decoding {n} classes of {path.name} (once: then cached)"
        return path, device, load_tiny_imagenet(path, n_classes=n, class_seed=CLASS_SEED)
    except (DataError, ValueError) as e: sys.exit(f"error: {e}")


def header(args, device, data) -> str:
    "What ran where: the versions, the machine, the threads, the runtime of (a) and the images."
    rt = Runtime(device)
    where = f" ({torch.cuda.get_device_name(device)})" if device.type == 'cuda' else ''
    return (f"torch {torch.__version__} · {cpu_name()} · {num_cpus()} cores · torch.set_num_threads"
            f"({torch.get_num_threads()}) in the main process, DataLoader workers {args.workers} × 1 thread · "
            f"device {device}{where} · project runtime {rt.precision} autocast, channels_last={rt.channels_last} · "
            f"batch {BATCH} · {len(data.train_y)} train images of {len(data.classes)} classes (class_seed "
            f"{CLASS_SEED})")


def run_rounds(configs, args, ceiling):
    "Warm every configuration up, then measure them in interleaved rounds, each within its cap; `ceiling` after each."
    for c in configs:
        t0 = time.perf_counter()
        c.run(max(args.warmup, 2 if c.kind == 'compiled' else 1), args.max_seconds / 2, 'warming up')
        c.warm_s = time.perf_counter() - t0
        say(f"{c.name} warmed up in {c.warm_s:5.1f}s")
    for i in range(args.rounds):
        for c in configs:
            left = args.max_seconds - sum(r[1] for r in c.rounds) if args.max_seconds else 0
            if c.rounds and args.max_seconds and left <= 0:
                say(f"round {i + 1}/{args.rounds} {c.name} skipped: its {args.max_seconds:.0f}s are spent"); continue
            steps = args.steps // args.rounds + (i < args.steps % args.rounds)
            c.rounds.append(r := c.run(steps, left / (args.rounds - i), f'round {i + 1}'))
            n, t, d, k = r
            say(f"round {i + 1}/{args.rounds} {c.name} {n / t:7.1f} img/s  step {1e3 * t / k:7.1f} ms  "
                f"{'data wait' if c.kind == 'baseline' else 'data'} {1e3 * d / k:6.1f} ms ({100 * d / t:4.1f}%)  "
                f"{k} steps")
        ceiling(f'after round {i + 1}')
    for c in configs:
        if c.finite and not c.finite(): sys.exit(f"error: the project loop diverged (non-finite loss) for {c.variant}")


def tables(args, rows, ceils, device, load0) -> list:
    "The run's settings and ceiling in words, then the tables of (a) against (b), (d) and (e), with what they show."
    ceil, lo = ({k: f(c[k] for c in ceils) for k in ('bf16', 'fp32')} for f in (max, min))
    sizes = '/'.join(map(str, ceiling_sizes(device)))
    cap = f", at most {args.max_seconds:.0f} s measured per configuration" if args.max_seconds else ''
    md = [f"matmul ceiling (best of square {sizes} matmuls where each fits its time, 5 repeats each, measured "
          f"{len(ceils)}× in the run: at the start and after every round): **bf16 {ceil['bf16']:.0f} GFLOP/s**, "
          f"fp32 {ceil['fp32']:.0f} GFLOP/s (lowest measurement: bf16 {lo['bf16']:.0f}, fp32 {lo['fp32']:.0f}) · "
          f"{args.warmup} warm-up step(s), then {args.steps} measured steps per configuration in {args.rounds} "
          f"interleaved round(s){cap}; each configuration's best round is reported · run took "
          f"{(time.perf_counter() - say.t0) / 60:.1f} min · 1-min load average {load0:.1f} at the start, "
          f"{load():.1f} at the end (this run alone accounts for about {args.threads}; more means "
          f"other jobs shared the {num_cpus()} cores)", '',
          table(throughput_row, rows, ceil), '', NOTES['a'].format(workers=args.workers)]
    if args.compile: md += ['', NOTES['d'], '', table(compile_row, rows, ceil, needs=('compiled',))]
    if args.profile:
        md += ['', NOTES['e'].format(profile=args.profile), '', table(profile_row, rows, ceil, needs=('profile',))]
    return md


def measure(args):
    "Run the benchmark the arguments describe, print its tables (and write them to `--out`), and return its rows."
    path, device, data = setup(args)
    load0, head, ceils = load(), header(args, device, data), []  # ceilings: on a shared machine any one may be low
    say(head)
    def ceiling(when):
        say.doing = f"measuring the matmul ceiling ({when})"
        ceils.append(matmul_ceiling(device))
        say(f"matmul ceiling ({when}): bf16 {ceils[-1]['bf16']:.0f} GFLOP/s, fp32 {ceils[-1]['fp32']:.0f} GFLOP/s")
    ceiling('start')
    variants, configs = list(dict.fromkeys(args.variants + args.baseline_variants)), []
    for v in variants:  # per variant (a), (d), then (b)
        if v in args.variants: configs.append(project(v, data, args))
        if v in args.variants and args.compile: configs.append(project(v, data, args, compiled=True))
        if v in args.baseline_variants: configs.append(baseline(v, data, path, args))
    run_rounds(configs, args, ceiling)
    rows = [dict(variant=v, macs=count_macs(MiniResNet(v)), **{c.kind: c for c in configs if c.variant == v})
            for v in variants]
    for r in rows:
        if args.profile and 'project' in r:
            say.doing = f"profiling {r['variant']}"
            r['profile'] = pr = profile(r['project'], args.profile)
            say(f"(e) profiled {args.profile} step(s) of {r['variant']}: "
                + ', '.join(f"{g} {100 * x:.0f}%" for g, x in pr['shares'].items()))
    report('\n'.join([head, '', *tables(args, rows, ceils, device, load0)]), args.out)
    return rows


def main(argv=None):
    args = parse_args(argv)
    check_markdown()
    if not args.compile: return measure(args)
    # an empty compilation cache, so that (d)'s warm-up shows what a first `fit(..., compile=True)` pays
    with tempfile.TemporaryDirectory(prefix='inductor-cache-') as d, patch.dict(os.environ, TORCHINDUCTOR_CACHE_DIR=d):
        return measure(args)


if __name__ == '__main__':
    main()
