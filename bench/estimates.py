"""How far `resnet-study run` misses the time it announces: estimate ÷ actual, for studies trained on this machine.

Each study is asked for its plan first (`--dry-run`, which times a few training steps of each planned network here;
the measurements cached by earlier plans are cleared first), then run into a fresh folder, and timed from the
command's start to its end (training, latency, report and site). A ratio of 1 is an exact estimate; above 1 the
study took less time than announced.

    .venv/bin/python bench/estimates.py --data $TINY_IMAGENET --out bench/estimates_epyc.md
"""
import argparse, os, re, subprocess, sys, tempfile, time
from pathlib import Path

import pandas as pd
import torch
from resnet_study.core import cache_dir
from resnet_study.estimate import PACE_JSON
from common import check_markdown, cpu_name, markdown, report

CLI = str(Path(sys.executable).parent/'resnet-study')
STUDIES = {'smoke (synthetic)': ['--preset', 'smoke', '--data', 'synthetic'],
           'quick, 2 designs': ['--preset', 'quick', '--variants', 'basic_post', 'bottleneck_post']}


def seconds(hms: str) -> int:
    "Seconds of fastprogress's 'MM:SS' or 'H:MM:SS'."
    s = 0
    for part in hms.split(':'): s = 60 * s + int(part)
    return s


def one(name, args, data, folder) -> dict:
    "The announced and the actual time of the study `args`, run into `folder`."
    if '--data' not in args: args += ['--data', data]
    print(f"{name}: planning ...", flush=True)
    plan = subprocess.run([CLI, 'run', *args, '--out', str(folder), '--dry-run'], capture_output=True, text=True)
    if plan.returncode: sys.exit(f"{name}: --dry-run failed:\n{plan.stderr}")
    expected = seconds(re.search(r'expected: ([\d:]+)', plan.stdout).group(1))
    print(f"{name}: announced {expected} s; running ...", flush=True)
    t0 = time.time()
    run = subprocess.run([CLI, 'run', *args, '--out', str(folder), '--quiet'], capture_output=True, text=True)
    actual = time.time() - t0
    if run.returncode: sys.exit(f"{name}: the study failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    print(f"{name}: took {actual:.0f} s", flush=True)
    return {'study': name, 'announced (s)': f'{expected}', 'took (s)': f'{actual:.0f}',
            'announced ÷ took': f'{expected / actual:.2f}'}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default=os.environ.get('TINY_IMAGENET'),
                   help='Tiny-ImageNet-200 zip (default: $TINY_IMAGENET)')
    p.add_argument('--studies', nargs='+', default=list(STUDIES), choices=list(STUDIES))
    p.add_argument('--out', type=Path, help='also write the table to this markdown file')
    a = p.parse_args(argv)
    check_markdown()
    if not a.data: p.error('--data: give the Tiny-ImageNet archive (or set $TINY_IMAGENET)')
    (cache_dir()/PACE_JSON).unlink(missing_ok=True)  # measure now, not at some busier or quieter time
    with tempfile.TemporaryDirectory() as d:
        rows = [one(n, STUDIES[n], a.data, Path(d)/f'study{i}') for i, n in enumerate(a.studies)]
    threads = os.environ.get('OMP_NUM_THREADS') or torch.get_num_threads()
    head = (f"`resnet-study run`: the time announced before a study against the time it took · {cpu_name()} · "
            f"{threads} thread(s) · torch {torch.__version__}")
    report(head + '\n\n' + markdown(pd.DataFrame(rows)), a.out)


if __name__ == '__main__': main()
