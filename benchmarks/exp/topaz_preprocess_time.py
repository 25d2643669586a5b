"""Wall and CPU seconds of `topaz preprocess` at 1 thread on the three benchmark sets (bench_pick_topaz.py's inputs).

bench_pick_topaz.py charges every Topaz row the wall time of one cached `topaz preprocess` run per set; this
re-measures it (and its CPU time) so time ratios can be taken on CPU seconds, which a shared machine's load does not
inflate. Run after bench_pick_topaz.py has made its Topaz venv and MRC copies:

    python benchmarks/exp/topaz_preprocess_time.py

Writes benchmarks/results/topaz_preprocess_1thread.{json,md}.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench_pick_topaz as bt  # noqa: E402
from bench_pick_objectives import RESULTS, markdown_table, real_dataset, simulated_dataset  # noqa: E402
from bench_pick_pretrained import unseen_dataset  # noqa: E402


def main() -> None:
    import pandas as pd

    from fewlabel.atomic import write_text_atomic

    topaz = bt.ensure_topaz()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    work = Path(__file__).resolve().parents[1] / "work"
    sets = (("real", real_dataset(), 8), ("unseen", unseen_dataset(work, 10, 5, 1024, [10, 100]), 4),
            ("sim", simulated_dataset(work, 16, 6, 1024, 0, [10, 100, 1000]), 5))
    rows = []
    for name, ds, factor in sets:
        if ds is None:
            continue
        for split in ("train", "test"):
            paths = bt.as_mrc(ds[f"{split}_paths"], work / "topaz" / name / "mrc")
            with tempfile.TemporaryDirectory() as tmp:
                wall, cpu = bt.run(topaz + ["preprocess", "-s", str(factor), "-j", "1", "-o", tmp,
                                            *map(str, paths)], env)
            rows.append({"dataset": name, "split": split, "downsample": factor, "micrographs": len(paths),
                         "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "loadavg_1m": os.getloadavg()[0]})
            print(rows[-1], flush=True)
    stem = RESULTS / "topaz_preprocess_1thread"
    write_text_atomic(stem.with_suffix(".json"), json.dumps({"runs": rows}, indent=2) + "\n")
    md = ["# topaz_preprocess_1thread", "", "`python benchmarks/exp/topaz_preprocess_time.py`: `topaz preprocess -s F -j 1`"
          " of each benchmark split (Topaz 0.3.20, 1 thread, shared machine: load = 1-minute load average).", "",
          markdown_table(pd.DataFrame(rows), index=False)]
    write_text_atomic(stem.with_suffix(".md"), "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
