"""The hepgan command: real runs in a subprocess, checking files, summaries and error lines."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hepgan.api import load_sim_config, simulate
from hepgan.cli import main
from hepgan.data.hdf5 import read_showers


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hepgan.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_simulate_writes_a_file_that_reads_back_bit_exactly(tmp_path):
    out = tmp_path / "sub" / "showers.h5"
    result = _run("simulate", "--energies", "1,65", "--events-per-energy", "300", "--seed", "3", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "wrote 600 photon showers on atlas266" in result.stdout
    assert "<Etot/E>" in result.stdout and "f_strips" in result.stdout
    data = read_showers(out)
    expected = simulate(load_sim_config(None, energies_gev=[1.0, 65.0], events_per_energy=300, seed=3))
    assert data.geometry == "atlas266"
    assert data.showers.dtype == expected.showers.dtype
    np.testing.assert_array_equal(data.showers, expected.showers)
    np.testing.assert_array_equal(data.incident_energies, expected.incident_energies)
    for name in ("impact_eta", "impact_phi"):
        np.testing.assert_array_equal(data.conditions[name], expected.conditions[name])
    assert data.attrs["sim_config"]["seed"] == 3


def test_info_prints_the_per_energy_summary(tmp_path, capsys):
    out = tmp_path / "s.h5"
    simulate(load_sim_config(None, energies_gev=[8.0], events_per_energy=200), out=out)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "200" in text and "f_middle" in text
    assert main(["info", str(out), "--json"]) == 0
    assert '"energy_gev": 8.0' in capsys.readouterr().out


def test_simulate_reads_a_yaml_config_and_options_override_it(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text("geometry: calogan\nparticle: electron\nenergies_gev: [10]\nevents_per_energy: 50\n")
    result = _run("simulate", "--config", str(config), "--events-per-energy", "20", "--out", str(tmp_path / "c.h5"), "--no-progress")
    assert result.returncode == 0, result.stderr
    data = read_showers(tmp_path / "c.h5")
    assert data.geometry == "calogan" and len(data) == 20


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "--geometry", "atlas267"], "unknown geometry 'atlas267'; valid names: atlas266"),
        (["simulate", "--energies", "1,x"], "expected comma-separated numbers, got '1,x'"),
        (["simulate", "--events-per-energy", "0"], "events_per_energy: Input should be greater than or equal to 1"),
        (["simulate", "--energy-range", "100,1"], "energy_range_gev must satisfy"),
        (["simulate", "--energies", "0.001"], "energies must lie in 0.05-10000 GeV"),
        (["simulate", "--config", "missing.yaml"], "missing.yaml: cannot read config"),
        (["simulate", "--geometry", "calogan", "--particle", "pion+"],
         "particle 'pion+' needs a geometry with interaction lengths; 'calogan' describes an electromagnetic"),
    ],
)
def test_bad_simulate_input_gives_one_clear_line(tmp_path, args, message):
    result = _run(*args, "--out", str(tmp_path / "x.h5"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.h5").exists()


def test_simulate_writes_pion_showers_on_the_pion_binning(tmp_path):
    out = tmp_path / "pions.h5"
    result = _run("simulate", "--geometry", "calochallenge-1-pions", "--particle", "pion-", "--energies", "10,100",
                  "--events-per-energy", "200", "--seed", "2", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "wrote 400 pion- showers on calochallenge-1-pions" in result.stdout and "f_tile1" in result.stdout
    data = read_showers(out)
    expected = simulate(load_sim_config(None, geometry="calochallenge-1-pions", particle="pion-",
                                        energies_gev=[10.0, 100.0], events_per_energy=200, seed=2))
    assert data.showers.shape == (400, 533) and data.attrs["sim_config"]["particle"] == "pion-"
    np.testing.assert_array_equal(data.showers, expected.showers)


def test_simulate_a_challenge_spectrum_and_info_shows_its_15_energies(tmp_path, capsys):
    out = tmp_path / "ds1.h5"
    assert main(["simulate", "--spectrum", "calochallenge-1", "--geometry", "calochallenge-1-photons", "--events",
                 "1500", "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    assert "wrote 1500 photon showers on calochallenge-1-photons" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["energy_gev"] for row in rows] == [2.0**k / 1000.0 for k in range(8, 23)]
    assert [row["n"] for row in rows] == [124] * 11 + [62, 37, 25, 12]
    assert read_showers(out).attrs["sim_config"]["spectrum"] == "calochallenge-1"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--spectrum", "calochallenge-1", "--energies", "1,2"],
         "--spectrum replaces --energies: give one or the other (--events sets the spectrum's number of showers)"),
        (["--spectrum", "calochallenge-2", "--energy-range", "1,10", "--events", "5"],
         "--spectrum replaces --energy-range"),
        (["--spectrum", "calochallenge-1", "--events-per-energy", "5"], "--spectrum replaces --events-per-energy"),
        (["--energies", "1,2", "--energy-range", "1,10"], "give --energies or --energy-range, not both"),
        (["--spectrum", "ds1"],
         "unknown spectrum 'ds1'; valid names: calochallenge-1, calochallenge-2, calochallenge-3"),
    ],
)
def test_a_spectrum_with_other_energy_options_is_one_clear_line(tmp_path, capsys, args, message):
    assert main(["simulate", *args, "--out", str(tmp_path / "x.h5"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepgan simulate: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.h5").exists()


def test_info_on_a_bad_file_names_it(tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5 at all")
    result = _run("info", str(bad))
    assert result.returncode == 2 and "notes.h5" in result.stderr and "Traceback" not in result.stderr
    result = _run("info", str(tmp_path / "absent.h5"))
    assert result.returncode == 2 and "absent.h5" in result.stderr and "Traceback" not in result.stderr


def test_geometries_lists_every_registered_geometry(capsys):
    assert main(["geometries"]) == 0
    text = capsys.readouterr().out
    for name in ("atlas266", "calogan", "calochallenge-1-photons", "calochallenge-3"):
        assert name in text


def test_train_runs_a_config_and_reports_where_the_run_is(tmp_path, shower_file):
    import yaml

    from tests.helpers import shower_config

    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(shower_config(tmp_path / "run", shower_file)))
    result = _run("train", str(config), "--set", "schedule.steps=4", "--set", "optim.lr_g=2e-4", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "trained 4 steps" in result.stdout and str(tmp_path / "run") in result.stdout
    assert (tmp_path / "run/checkpoints/last.pt").exists()
    again = _run("train", str(tmp_path / "run/config.yaml"), "--set", "schedule.steps=6", "--resume", "--no-progress")
    assert again.returncode == 0 and "trained 2 steps in " in again.stdout and "(the run: 6 of 6)" in again.stdout
    bad = _run("train", str(config), "--set", "schedule.n_critic=0")
    assert bad.returncode == 2 and "schedule.n_critic" in bad.stderr and "Traceback" not in bad.stderr
    bad = _run("train", str(config), "--set", "nonsense")
    assert bad.returncode == 2 and "--set expects KEY=VALUE" in bad.stderr


def test_info_refuses_an_impossible_incident_energy_naming_the_row(tmp_path, capsys):
    import h5py

    path = tmp_path / "neg.h5"
    with h5py.File(path, "w") as f:
        f["showers"] = np.ones((4, 266), np.float32)
        f["incident_energies"] = np.array([[1000.0], [2000.0], [-1.0], [0.0]])
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepgan info: error: ") and err.count("\n") == 1
    assert "neg.h5: row 2: incident energy must be positive, got -1 MeV (2 such row(s))" in err


def test_info_refuses_cells_that_match_no_known_geometry_when_none_is_named(tmp_path, capsys):
    import h5py

    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["showers"] = np.ones((4, 300), np.float32)
        f["incident_energies"] = np.full((4, 1), 1000.0)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "odd.h5: 300 cells per shower match no known geometry (atlas266 266," in err and err.count("\n") == 1


def test_a_run_started_with_overrides_resumes_from_its_directory_alone(tmp_path, shower_file, capsys):
    import yaml

    from tests.helpers import shower_config

    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(shower_config(tmp_path / "run", shower_file)))
    assert main(["train", str(config), "--set", "schedule.steps=4", "--set", "optim.lr_g=3e-4", "--no-progress"]) == 0
    capsys.readouterr()
    # the original file lacks the run's override: refused, pointing at the directory form
    assert main(["train", str(config), "--set", "schedule.steps=6", "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"hepgan train {tmp_path / 'run'} --resume" in err and err.count("\n") == 1
    # the run directory: its own config, overrides included
    assert main(["train", str(tmp_path / "run"), "--set", "schedule.steps=6", "--resume", "--no-progress"]) == 0
    assert "trained 2 steps in " in capsys.readouterr().out
    assert main(["train", str(tmp_path), "--resume"]) == 2
    assert "not a run directory (it holds no config.yaml)" in capsys.readouterr().err


def test_the_one_line_warning_printer_is_put_back_after_each_command(capsys):
    import warnings

    before = warnings.showwarning
    for _ in range(2):
        assert main(["geometries"]) == 0
        assert warnings.showwarning is before  # no printer left behind, none stacked on another
    capsys.readouterr()
