"""Print the cost of the four Mini-ResNet variants -- parameters, MACs at 64x64, latency -- as a markdown table.

    .venv/bin/python bench/model_cards.py                 # batch 1, 100 passes after 10 warm-up, throughput at 128
    .venv/bin/python bench/model_cards.py --threads 1 --device cpu --iters 300
"""
import argparse
from pathlib import Path

import torch
from resnet_study.core import get_device
from resnet_study.metrics import variants_table, cards_markdown
from common import cpu_name, report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='auto', help="'auto', 'cpu' or 'cuda[:N]' (default: auto)")
    p.add_argument('--threads', type=int, default=None, help="CPU threads (default: torch's current setting)")
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--iters', type=int, default=100)
    p.add_argument('--throughput-batch', type=int, default=128, help='batch for images/s; 0 to skip')
    p.add_argument('--throughput-iters', type=int, default=3)
    p.add_argument('--precision', default='fp32', help="'fp32', 'bf16', 'fp16' or 'auto'")
    p.add_argument('--no-channels-last', dest='channels_last', action='store_false')
    p.add_argument('--out', type=Path, help='also write the table to this markdown file')
    a = p.parse_args(argv)
    try:
        df = variants_table(batch_size=a.batch_size, warmup=a.warmup, iters=a.iters, device=a.device, threads=a.threads,
                            throughput_batch=a.throughput_batch or None, throughput_iters=a.throughput_iters,
                            precision=a.precision, channels_last=a.channels_last)
    except ValueError as e: p.error(str(e))
    r = df.iloc[0]
    dev = get_device(r.device)
    where = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else cpu_name()
    head = (f"Mini-ResNet variants, 64x64 input, 25 classes. Latency at batch {r.batch_size}: {r.iters} passes after "
            f"{r.warmup} warm-up; {r.device} ({where}), {r.threads} threads, {r.precision}, "
            f"{'channels-last' if r.channels_last else 'NCHW'}, torch {torch.__version__}.")
    report(head + '\n\n' + cards_markdown(df), a.out)


if __name__ == '__main__': main()
