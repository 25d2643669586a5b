"""--shard I/N: 1-based, validated, round-robin, every item in exactly one shard."""

import pytest

from fewlabel.errors import InputError
from fewlabel.scale.shards import Shard, parse_shard, select_shard


def test_parse_valid_specs():
    assert parse_shard("1/4") == Shard(1, 4)
    assert parse_shard(" 4 / 4 ") == Shard(4, 4)
    assert parse_shard(None) is None


@pytest.mark.parametrize("spec", ["3/2", "0/2", "1/0", "2", "a/b", "-1/3", "1/2/3", ""])
def test_bad_specs_are_input_errors(spec):
    with pytest.raises(InputError, match="--shard"):
        parse_shard(spec)


@pytest.mark.parametrize("n_items,n_shards", [(10, 3), (3, 5), (7, 1), (0, 2)])
def test_shards_cover_every_item_exactly_once(n_items, n_shards):
    items = [f"m{i}" for i in range(n_items)]
    seen = []
    sizes = []
    for i in range(1, n_shards + 1):
        part = list(select_shard(iter(items), Shard(i, n_shards)))
        assert part == [x for x in items if x in set(part)]  # input order kept within a shard
        seen += part
        sizes.append(len(part))
    assert sorted(seen) == sorted(items) and len(seen) == len(set(seen))
    assert max(sizes) - min(sizes) <= 1  # round-robin balances the shards


def test_no_shard_passes_everything_through():
    assert list(select_shard(range(5), None)) == [0, 1, 2, 3, 4]
