"""Label CSV reading (full, subset by index, names) and its errors; cluster CSV writing."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.classify2d.labels import read_labels, subsample_labels, write_clusters
from fewlabel.errors import InputError


def test_full_numeric_and_named_labels(tmp_path):
    p = tmp_path / "l.csv"
    pd.DataFrame({"index": [0, 1, 2, 3], "label": [2, 0, 2, 1]}).to_csv(p, index=False)
    codes, names = read_labels(p, 4)
    assert codes.tolist() == [2, 0, 2, 1] and names == ["0", "1", "2"]
    p.write_text("label\nopen\nclosed\nopen\n")
    codes, names = read_labels(p, 3)
    assert names == ["closed", "open"] and codes.tolist() == [1, 0, 1]


def test_subset_by_index_and_blank_cells_are_unlabeled(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("index,label\n4,a\n1,b\n2,\n")
    codes, names = read_labels(p, 6)
    assert codes.tolist() == [-1, 1, -1, -1, 0, -1]
    with pytest.raises(InputError, match="have no label"):
        read_labels(p, 6, complete=True)


def test_length_mismatch_and_bad_index_are_input_errors(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("label\n0\n1\n")
    with pytest.raises(InputError, match="2 label rows for a stack of 5"):
        read_labels(p, 5)
    p.write_text("index,label\n0,1\n9,0\n")
    with pytest.raises(InputError, match="index values must lie in 0..4"):
        read_labels(p, 5)
    p.write_text("name\nx\n")
    with pytest.raises(InputError, match="'label' column"):
        read_labels(p, 1)


def test_subsample_keeps_a_fraction_per_class():
    labels = np.repeat([0, 1], 50)
    sub = subsample_labels(labels, 0.2, seed=0)
    assert (sub == 0).sum() == 10 and (sub == 1).sum() == 10 and (sub == -1).sum() == 80
    assert np.all(sub[sub >= 0] == labels[sub >= 0])


def test_write_clusters_has_index_label_in_stack_order(tmp_path):
    out = write_clusters(tmp_path / "c.csv", np.array([2, 0, 1]))
    df = pd.read_csv(out)
    assert list(df.columns) == ["index", "label"] and df["index"].tolist() == [0, 1, 2]
    assert df["label"].tolist() == [2, 0, 1]
