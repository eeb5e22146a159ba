"""Training loader throughput: samples (and batches) per second from the train shards.
Usage: python bench/loader_throughput.py [--batch 8] [--crop-seconds 2] [--workers 2] [--batches 100]
"""

from __future__ import annotations

import argparse
import time

from apollo.config import load_params
from apollo.data.loader import make_loader
from apollo.params import SR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop-seconds", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=100)
    args = ap.parse_args()
    folder = f"{load_params().shards.out}/train"
    loader = make_loader(folder, batch_size=args.batch, crop_samples=int(args.crop_seconds * SR),
                         workers=args.workers, repeat=True)  # fmt: skip
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(args.batches):
        degraded, target = next(it)
    wall = time.perf_counter() - start
    print(f"batch {tuple(degraded.shape)} on {args.workers} workers: "
          f"{args.batches * args.batch / wall:.0f} samples/s, {args.batches / wall:.1f} batches/s")  # fmt: skip


if __name__ == "__main__":
    main()
