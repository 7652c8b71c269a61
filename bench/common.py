"""What the benchmark scripts share: the machine's name, a matmul ceiling, and how a table is printed and kept.

The scripts run as `python bench/<script>.py`, which puts this folder first on `sys.path`, so each imports it as
`common`. Counting, training and timing the models is the library's (`resnet_study.metrics`, `resnet_study.train`);
only what describes or loads the machine itself lives here.
"""
from __future__ import annotations
import sys, time
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import torch

def cpu_name() -> str:
    "The CPU's model name, as the runs' records name it (`resnet_study.metrics.machine_info`)."
    from resnet_study.metrics import machine_info
    m = machine_info()
    return m['cpu_model'] or m['arch'] or 'an unknown CPU'

def make_sync(device):
    "A function that waits for `device` to finish its queued work: kernels on a GPU run asynchronously."
    return (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)

def ceiling_sizes(device) -> tuple:
    "The sides of the square matmuls `matmul_ceiling` tries on `device`, smallest first."
    return (1024, 4096, 8192) if device.type == 'cuda' else (512, 2048, 4096)

def matmul_ceiling(device, repeats=5, max_seconds=30.0) -> dict:
    """Best achieved GFLOP/s of square matmuls, per dtype name ('bf16', 'fp32'): what the hardware reaches on the
    easiest work. A size whose products would not end within `max_seconds` of the dtype's start, at the pace of the
    last one, is not tried: a CPU that emulates bf16 gives its (low) ceiling in seconds, not in an hour."""
    sync, out = make_sync(device), {}
    for name, dt in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
        best, rate, end = 0.0, None, time.perf_counter() + max_seconds
        for n in ceiling_sizes(device):
            if rate and (repeats + 1) * 2 * n ** 3 / rate > end - time.perf_counter(): break
            a, b = torch.randn(n, n, device=device, dtype=dt), torch.randn(n, n, device=device, dtype=dt)
            for i in range(repeats + 1):  # the first product picks kernels and packs buffers: not counted
                t0 = time.perf_counter(); a @ b; sync()
                rate = 2 * n ** 3 / (time.perf_counter() - t0)
                if i: best = max(best, rate / 1e9)
            del a, b
        out[name] = best
    return out

def check_markdown():
    "Exit at once, not after minutes of measuring, if the tables cannot be written (`to_markdown` needs `tabulate`)."
    if find_spec('tabulate') is None:
        sys.exit("error: writing the tables needs the `tabulate` package (pip install tabulate)")

def markdown(df: pd.DataFrame, align=None) -> str:
    """`df` as a markdown table with its cells exactly as formatted (no re-parsing of numbers): the first column left,
    the others right, unless `align` gives one of 'left', 'right', 'center' per column."""
    align = align or ('left',) + ('right',) * (df.shape[1] - 1)
    return df.to_markdown(index=False, disable_numparse=True, colalign=align)

def report(md: str, out=None):
    "Print the result `md`, and keep it in the markdown file `out` if one is given."
    print('\n' + md, flush=True)
    if not out: return
    out = Path(out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md + '\n')
    print(f"\nwrote {out}")
