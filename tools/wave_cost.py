"""Batch saved waves again, one after the other in one process, and print what each cost.

The waves come from ``tools/day_window.py --save-waves DIR`` (pickles: load only files you made). They are
batched in file order with one memo of route lengths, as the planner's worker batches a day's waves, on
the layout of ``--config``. Each line gives the wave's orders, its carts, the CPU seconds it took and a
digest of its carts, so two commits compare by running this in a checkout of each on the same folder::

    python tools/day_window.py --hours 0.5 --start 20:00 --save-waves /tmp/waves
    python tools/wave_cost.py /tmp/waves
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import time
from pathlib import Path

from wms.config import load_warehouse
from wms.layout import Layout
from wms.picking.batch import batch_pick_orders


def main() -> None:
    """Batch every saved wave and print its cost."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="where day_window.py --save-waves put the waves")
    ap.add_argument(
        "--config", type=Path, default=Path("config/city.toml"), help="the layout the waves came from"
    )
    ap.add_argument(
        "--min-orders", type=int, default=0, help="skip smaller waves (still batched, for the memo)"
    )
    args = ap.parse_args()
    cfg = load_warehouse(args.config)
    layout = Layout(cfg.storage, cfg.pack.stations, cfg.fleet.picking.charging_spots)
    total = 0.0
    print(f"{'wave':>24} {'orders':>7} {'carts':>6} {'CPU s':>7}  carts digest")
    for path in sorted(args.folder.glob("wave*.pkl")):
        with path.open("rb") as f:
            orders, cart, timing, method = pickle.load(f)
        cpu = time.process_time()
        carts = batch_pick_orders(layout, orders, cart, timing, method=method)
        cpu = time.process_time() - cpu
        if len(orders) < args.min_orders:
            continue
        total += cpu
        digest = hashlib.sha1(repr([[o.order_no for o in c] for c in carts]).encode()).hexdigest()[:12]
        print(f"{path.stem:>24} {len(orders):>7,} {len(carts):>6,} {cpu:>7.2f}  {digest}")
    print(f"{'all shown':>24} {'':>7} {'':>6} {total:>7.2f}")


if __name__ == "__main__":
    main()
