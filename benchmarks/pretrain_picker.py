"""Build fewlabel's general picker (the shipped weights) from its recipe, bit for bit on CPU.

Simulates the canonical-frame corpus (fewlabel.pick.pretrained.Recipe: molecules, sizes, SNR,
defocus, ice, carbon, contamination, junk, crowding), trains the default picker architecture with
full supervision and writes the weights + JSON recipe. One torch thread (the recipe's) so the
result is the same on any CPU; ``--resume`` continues from OUTPUT.last.pt after an interruption.

    python benchmarks/pretrain_picker.py -o src/fewlabel/data/weights/general_picker.pt
    python benchmarks/pretrain_picker.py --steps 200 --n-micrographs 20 -o /tmp/tiny.pt   # smoke test
    python benchmarks/pretrain_picker.py --set lowpass_probability=0.5 -o benchmarks/work/gp_lowpass.pt  # a candidate

A candidate is scored like the shipped picker with ``bench_pick_pretrained.py --weights CANDIDATE.pt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def recipe_overrides(items: list[str]) -> dict:
    """``["batch=16", "lowpass_sigma=0.6,2"]`` -> Recipe fields with the types of their defaults."""
    from fewlabel.pick.pretrained import Recipe

    defaults = Recipe().to_dict()
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in defaults:
            raise SystemExit(f"--set {item}: expected FIELD=VALUE with FIELD one of {', '.join(defaults)}")
        default = defaults[key]
        if isinstance(default, list):
            kind = type(default[0]) if default else str
            out[key] = tuple(kind(v) for v in value.split(","))
        else:
            out[key] = type(default)(value)
    return out


def main(argv=None) -> None:
    from fewlabel.atomic import write_text_atomic
    from fewlabel.pick.pretrained import Recipe, pretrain

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--seed", type=int, default=Recipe.seed)
    ap.add_argument("--steps", type=int, default=Recipe.steps)
    ap.add_argument("--n-micrographs", type=int, default=Recipe.n_micrographs)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="any other Recipe field (repeatable); ranges as LO,HI, the corpus as NAME,NAME,...")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    recipe = replace(Recipe(), seed=args.seed, steps=args.steps, n_micrographs=args.n_micrographs,
                     **recipe_overrides(args.set))
    t = time.perf_counter()
    summary = pretrain(recipe, args.output, resume=args.resume)
    out = Path(args.output)
    record = {"command": "python benchmarks/pretrain_picker.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "recipe": recipe.to_dict(), "wall_s": time.perf_counter() - t,
              "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
                         f"shared; torch threads {recipe.threads}",
              **summary}
    write_text_atomic(out.with_name(out.stem + ".recipe.json"), json.dumps(record, indent=1, default=float) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB); validation AUPRC {summary['val_auprc']:.4f}; "
          f"simulation {summary['simulation_cpu_s']:.0f} s + training {summary['training_cpu_s']:.0f} s CPU")


if __name__ == "__main__":
    main()
