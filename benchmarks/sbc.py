"""Simulation-based calibration of every model family, sparse and dense designs.

    python benchmarks/sbc.py --reps 500                 # every family, both designs
    python benchmarks/sbc.py --reps 100 --family transition --design sparse
    python benchmarks/sbc.py --reps 500 --family transition_local --design mixed
    python benchmarks/sbc.py --reps 500 --family transition --design mixed
    python benchmarks/sbc.py --reps 500 --family logit_trend --design bounds
    python benchmarks/sbc.py --reps 500 --family transition --design bounds

The observation-layer designs run only when asked, for the families that simulate their
layer (``LAYER_FAMILIES``): ``mixed`` (source types, part-year values, a break) for the
transition families, ``bounds`` (part-year values, values known only as bounds) for the
straight-line families and ``transition``.

Prints, per family, design and parameter, the chi-square test of uniform ranks (p-value;
small p means the posterior is miscalibrated for that parameter) and the mean scaled rank
(0.5 when unbiased), and writes the ranks to --out (CSV). Simulated data only. Each family
and design is compiled once; replications swap the data into the compiled model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from tnmodel.models import FAMILIES
from tnmodel.models.sbc import DESIGNS, LAYER_FAMILIES, sbc_ranks, uniformity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES))
    parser.add_argument("--design", action="append", choices=[*sorted(DESIGNS), *LAYER_FAMILIES])
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--thin", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.95,
                        help="0.995 is what scenario fits use")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prior", action="append", default=[], metavar="NAME=VALUE",
                        help="a prior setting of the family (repeat), e.g. "
                        "innovation_scaling=binomial")
    parser.add_argument("--all-geos", action="store_true",
                        help="rank every geo's level and pace, not only the first geo's")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/sbc_ranks.csv"))
    args = parser.parse_args()
    import yaml

    settings = {name: yaml.safe_load(value) for name, _, value in
                (item.partition("=") for item in args.prior)}
    frames = []
    for family in args.family or sorted(FAMILIES):
        for design in args.design or sorted(DESIGNS):
            if family not in LAYER_FAMILIES.get(design, (family,)):
                print(f"{family} / {design}: skipped (its simulate draws no observation "
                      "layer)", flush=True)
                continue
            started = time.perf_counter()
            ranks = sbc_ranks(family, design, reps=args.reps, draws=args.draws, tune=args.tune,
                              thin=args.thin, seed=args.seed, target_accept=args.target_accept,
                              settings=settings, all_geos=args.all_geos)
            frames.append(ranks)
            print(f"{family} / {design}: {args.reps} replications in "
                  f"{time.perf_counter() - started:.0f} s "
                  f"({int((ranks.groupby('rep')['divergences'].first() > 0).sum())} with "
                  "divergences)", flush=True)
            print(uniformity(ranks).to_string(index=False, float_format="%.3f"), flush=True)
    ranks = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(args.out, index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
