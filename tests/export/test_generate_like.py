"""hepgan generate with the conditions of a reference file (``like``) or a named spectrum."""

import h5py
import numpy as np
import pytest

from hepgan.cli import main
from hepgan.data.hdf5 import read_showers, write_showers
from hepgan.errors import ConfigError
from hepgan.export.generate import generate_file
from hepgan.sim import get_spectrum, simulate


def test_like_reproduces_the_references_conditions_row_by_row(tmp_path, trained_run, shower_file, monkeypatch):
    read = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        read.append(self.name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    result = generate_file(trained_run, tmp_path / "like.h5", like=shower_file, chunk_size=50, seed=2)
    monkeypatch.undo()
    assert "/showers" not in read and "/incident_energies" in read  # the condition columns only
    reference, generated = read_showers(shower_file), read_showers(tmp_path / "like.h5")
    assert result.n == len(generated) == len(reference) == 360 and result.warnings == []
    assert result.energies_gev == [2.0, 8.0, 32.0] and result.conditions == f"like {shower_file}"
    np.testing.assert_array_equal(generated.incident_energies, reference.incident_energies)
    for name in ("impact_eta", "impact_phi"):
        np.testing.assert_array_equal(generated.conditions[name], reference.conditions[name])
    assert generated.geometry == "atlas266" and (generated.showers >= 0).all() and generated.showers.sum() > 0
    assert generated.attrs["like"] == str(shower_file)

    # the chunk size bounds memory only: the same showers in one chunk (to float32 rounding, as BLAS
    # sums in a batch-size-dependent order)
    generate_file(trained_run, tmp_path / "one.h5", like=shower_file, chunk_size=1000, seed=2)
    np.testing.assert_allclose(read_showers(tmp_path / "one.h5").showers, generated.showers, rtol=1e-6,
                               atol=1e-6 * generated.showers.max())


def test_like_draws_the_impact_points_a_reference_lacks(tmp_path, trained_run, shower_file):
    reference = read_showers(shower_file)
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as f:  # a file in the challenge's own layout: energies and showers only
        f["incident_energies"] = reference.incident_energies[:20]
        f["showers"] = reference.showers[:20]
    generated = read_showers(generate_file(trained_run, tmp_path / "g.h5", like=bare, eta=0.22).path)
    np.testing.assert_array_equal(generated.incident_energies, reference.incident_energies[:20])
    np.testing.assert_array_equal(generated.conditions["impact_eta"], 0.22)
    phi = generated.conditions["impact_phi"][:, 0]
    assert len(np.unique(phi)) == 20 and 0.0 <= phi.min() and phi.max() < 0.0982


def test_like_refuses_what_cannot_be_generated_like_the_reference(tmp_path, trained_run, shower_file):
    other = tmp_path / "ds2.h5"
    write_showers(other, simulate(geometry="calochallenge-2", spectrum="calochallenge-2", n_events=3))
    with pytest.raises(ConfigError, match="holds calochallenge-2 showers but the model generates atlas266"):
        generate_file(trained_run, tmp_path / "x.h5", like=other)
    with pytest.raises(ConfigError, match="one shower per row of the reference file; drop events"):
        generate_file(trained_run, tmp_path / "x.h5", like=shower_file, events=3)
    with pytest.raises(ConfigError, match="gives every shower's impact_eta; drop --eta"):
        generate_file(trained_run, tmp_path / "x.h5", like=shower_file, eta=0.22)
    with pytest.raises(ConfigError, match="would replace the reference file"):
        generate_file(trained_run, shower_file, like=shower_file)
    with pytest.raises(ConfigError, match="give exactly one of energies_gev .* got none"):
        generate_file(trained_run, tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="got energies_gev and spectrum"):
        generate_file(trained_run, tmp_path / "x.h5", energies_gev=[8], events=2, spectrum="calochallenge-1")
    assert not (tmp_path / "x.h5").exists()


def test_a_spectrum_gives_its_energies_with_its_counts(tmp_path, trained_run):
    warnings = []
    result = generate_file(trained_run, tmp_path / "s.h5", spectrum="calochallenge-1", events=200, warn=warnings.append)
    data = read_showers(result.path)
    expected = get_spectrum("calochallenge-1", 200)
    values, counts = np.unique(data.incident_energies[:, 0], return_counts=True)
    np.testing.assert_array_equal(values, np.asarray(expected.points_gev) * 1000.0)
    assert counts.tolist() == list(expected.counts) and result.n == expected.total == len(data)
    assert result.energies_gev == list(expected.points_gev) and data.attrs["spectrum"] == "calochallenge-1"
    # the run trained on 2-32 GeV: the challenge's 0.256-4194 GeV is extrapolation, said once
    assert len(warnings) == 1 and warnings[0].startswith("energy 0.256, 0.512, 1.024, 32.768, 65.536 GeV is outside")
    with pytest.raises(ConfigError, match="refused: --strict"):
        generate_file(trained_run, tmp_path / "t.h5", spectrum="calochallenge-2", events=5, strict=True)
    with pytest.raises(ConfigError, match="unknown spectrum 'nope'"):
        generate_file(trained_run, tmp_path / "t.h5", spectrum="nope")
    continuous = generate_file(trained_run, tmp_path / "c.h5", spectrum="calochallenge-2", events=7,
                               warn=warnings.append)
    energies = read_showers(continuous.path).incident_energies[:, 0]
    assert continuous.n == 7 and 1000.0 <= energies.min() and energies.max() <= 1e6 and len(np.unique(energies)) == 7


def test_generate_on_the_command_line(tmp_path, trained_run, shower_file, capsys):
    out = tmp_path / "like.h5"
    assert main(["generate", str(trained_run), "--like", str(shower_file), "--out", str(out)]) == 0
    assert f"wrote 360 showers (one per row of {shower_file})" in capsys.readouterr().out
    np.testing.assert_array_equal(read_showers(out).incident_energies, read_showers(shower_file).incident_energies)

    assert main(["generate", str(trained_run), "--spectrum", "calochallenge-1", "--events", "30",
                 "--out", str(tmp_path / "s.h5")]) == 0
    captured = capsys.readouterr()
    assert "wrote 26 showers (spectrum calochallenge-1)" in captured.out and "outside the trained range" in captured.err

    for args, message in [
        ([], "give exactly one of --energies (with --events), --like REF.h5 or --spectrum NAME; got none"),
        (["--energies", "8", "--like", str(shower_file)], "got --energies and --like"),
        (["--energies", "8"], "--energies needs --events"),
        (["--like", str(shower_file), "--events", "4"], "--like generates one shower per row"),
        (["--like", str(tmp_path / "missing.h5")], "missing.h5"),
    ]:
        assert main(["generate", str(trained_run), *args, "--out", str(tmp_path / "x.h5")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("hepgan generate: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()
