import numpy as np
import pandas as pd
import pytest

from baler_core.errors import InputError
from baler_core.io.tables import integer_valued_columns, iter_table_chunks, read_table, write_table

skhep = pytest.importorskip("skhep_testdata")
HZZ = skhep.data_path("uproot-HZZ.root")
ZMUMU = skhep.data_path("uproot-Zmumu.root")


def test_root_jagged_flattened_one_row_per_jet():
    import uproot

    df = read_table(HZZ, ["Jet_P*", "Jet_E"], tree="events")
    n_jets = int(uproot.open(HZZ)["events"]["NJet"].array(library="np").sum())
    assert list(df.columns) == ["Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E"] and len(df) == n_jets
    assert df.dtypes.iloc[0] == np.float32


def test_root_flat_branch_broadcast_and_cut():
    df = read_table(HZZ, ["Jet_Px", "NJet"], tree="events", cut="NJet >= 2")
    assert (df["NJet"] >= 2).all()
    assert df["NJet"].dtype == np.int32


def test_root_flat_tree_and_errors():
    df = read_table(ZMUMU, ["E1", "px1", "Q1"], tree="events")
    assert len(df) == 2304 and df["E1"].dtype == np.float64
    with pytest.raises(InputError, match="tree 'nope' not found; trees in file: events"):
        read_table(ZMUMU, ["E1"], tree="nope")
    with pytest.raises(InputError, match="branch 'E9' not found; branches: Type, Run"):
        read_table(ZMUMU, ["E9"], tree="events")
    with pytest.raises(InputError, match="unsupported type|non-numeric"):
        read_table(ZMUMU, ["Type"], tree="events")
    with pytest.raises(InputError, match="different lengths"):
        read_table(HZZ, ["Jet_Px", "Muon_Px"], tree="events")


def test_root_chunked_equals_whole():
    chunks = list(iter_table_chunks(HZZ, ["Jet_Px"], tree="events"))
    whole = read_table(HZZ, ["Jet_Px"], tree="events")
    assert sum(len(c) for c in chunks) == len(whole)


@pytest.mark.parametrize("suffix", [".parquet", ".npz", ".root"])
def test_write_read_round_trip(tmp_path, suffix):
    df = pd.DataFrame({"a": np.arange(5, dtype=np.float32), "b": np.linspace(0, 1, 5).astype(np.float32)})
    p = tmp_path / f"t{suffix}"
    write_table(df, p)
    back = read_table(p, tree="events" if suffix == ".root" else None)
    pd.testing.assert_frame_equal(back, df)


def test_missing_file_and_columns(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="unsupported table format"):
        read_table(tmp_path / "x.csv")
    p = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(p)
    with pytest.raises(InputError, match="columns not found: zz"):
        read_table(p, ["zz"])


def test_integer_detection():
    df = pd.DataFrame({"i": np.arange(4), "f": [1.0, 2.0, np.nan, 3.0], "g": [1.5, 2, 3, 4]})
    assert integer_valued_columns(df) == ["i", "f"]


@pytest.mark.parametrize("make, named", [
    (lambda: pd.DataFrame({"a": [1.0, 2.0], "n": pd.array([1, None], dtype="Int64")}), "'n'"),
    (lambda: pd.DataFrame({"a": [1.0, 2.0], "z": np.array([1 + 2j, 3j])}), "'z'"),
    (lambda: pd.DataFrame({"a": [1.0, 2.0], "q": np.array([1, 2], dtype=np.longdouble)}), "'q'"),
    (lambda: pd.DataFrame(np.ones((2, 2)), columns=["a", "a"]), "duplicate column names: a"),
    (lambda: pd.DataFrame({0: [1.0, 2.0]}), "must be strings"),
    (lambda: pd.DataFrame(index=range(5)), "no columns"),
])
def test_tables_baler_cannot_give_back_as_they_were_are_refused(tmp_path, make, named):
    """Columns a .baler file cannot store exactly (nullable, complex, 128-bit floats) or names it would change
    (integers, duplicates) are refused with the column named, by the codec and by the Parquet reader."""
    from baler_core.codec import CompressionOptions, compress_table
    from baler_core.coding.error_bounds import BoundSpec, parse_bound

    df = make()
    with pytest.raises(InputError, match=named):
        compress_table([df], None, tmp_path / "x.baler", CompressionOptions(BoundSpec(parse_bound("abs=1e-3"))))
    assert not (tmp_path / "x.baler").exists()
    if "'n'" in named:  # what pandas writes with a nullable column comes back nullable
        df.to_parquet(tmp_path / "n.parquet")
        with pytest.raises(InputError, match="nullable"):
            read_table(tmp_path / "n.parquet")
