import numpy as np
import pandas as pd
import pytest

from baler_core.errors import InputError
from baler_core.tables import integer_valued_columns, iter_table_chunks, read_table, write_table

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
