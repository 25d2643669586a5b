"""Scale-out: run one task per micrograph in-process, on a local Dask cluster, on an existing
scheduler or on SLURM (dask-jobqueue), or as one shard of a plain ``sbatch --array`` job.

Results land one file per item in a parts folder (written atomically), so reruns skip finished
items and a worker killed mid-run loses nothing and duplicates nothing; the parts are merged in
input order at the end. Entry point: :func:`fewlabel.scale.runner.run_scaled`.
"""

from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.shards import Shard, parse_shard

__all__ = ["ScaleSpec", "Shard", "parse_shard"]
