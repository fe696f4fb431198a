"""The simulator's config: defaults, validation whose errors name the field, YAML files and overrides."""

import pytest
from pydantic import ValidationError

from hepgan.errors import ConfigError, HepganError
from hepgan.sim import SimConfig
from hepgan.sim.config import RadialParameters, load_sim_config, replace_energy_fields


def test_config_errors_name_the_field(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("sampling_term: -1\nunknown_knob: 3\n")
    with pytest.raises(ConfigError) as err:
        load_sim_config(config)
    assert "sampling_term" in str(err.value) and "unknown_knob" in str(err.value)
    config.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_sim_config(config)
    with pytest.raises(ConfigError, match="noise_mev has 2 values but geometry 'atlas266' has 4 layers"):
        load_sim_config(None, noise_mev=[1.0, 2.0])
    with pytest.raises(ConfigError, match="energy_range_gev needs n_events"):
        load_sim_config(None, energy_range_gev=(1.0, 10.0))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"energies_gev": [1.0]}, "spectrum 'calochallenge-1' replaces energies_gev: give one or the other"),
        ({"energy_range_gev": (1.0, 10.0), "n_events": 5}, "replaces energy_range_gev"),
        ({"events_per_energy": 50}, "replaces events_per_energy"),
    ],
)
def test_a_spectrum_and_the_energy_fields_it_replaces_are_refused_together(fields, message):
    with pytest.raises(ValidationError, match=message):
        SimConfig(spectrum="calochallenge-1", **fields)
    with pytest.raises(ConfigError, match=message):
        load_sim_config(None, spectrum="calochallenge-1", **fields)


def test_an_unknown_spectrum_names_the_valid_ones():
    with pytest.raises(ConfigError, match="spectrum: .*unknown spectrum 'ds1'; valid names: calochallenge-1, "
                                          "calochallenge-2, calochallenge-3"):
        load_sim_config(None, spectrum="ds1")


def test_a_spectrum_config_round_trips_and_an_option_overrides_a_files_energies(tmp_path):
    config = SimConfig(spectrum="calochallenge-1", n_events=500)
    again = SimConfig(**config.model_dump(mode="json"))
    assert again == config and again.energies_gev is None and again.total_events == config.total_events
    assert "spectrum" not in SimConfig().model_dump()  # older settings dump (and hash their cache) as before

    yaml_file = tmp_path / "sim.yaml"
    yaml_file.write_text("energies_gev: [10]\nevents_per_energy: 50\nseed: 7\n")
    # the option names the energies, so the file's energy settings give way (its seed stays)
    overridden = load_sim_config(yaml_file, spectrum="calochallenge-2", n_events=100)
    assert overridden.spectrum == "calochallenge-2" and overridden.total_events == 100 and overridden.seed == 7
    assert load_sim_config(yaml_file, energy_range_gev=(1.0, 2.0), n_events=3).total_events == 3
    yaml_file.write_text("spectrum: calochallenge-1\n")
    assert load_sim_config(yaml_file, energies_gev=[4.0], events_per_energy=2).total_events == 2


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"energies_gev": [0.01, 5.0]}, "energies_gev: Value error, energies must lie in 0.05-10000 GeV, got [0.01]"),
        ({"energies_gev": []}, "energies_gev: Value error, energies_gev is empty"),
        ({"energy_range_gev": (10.0, 1.0), "n_events": 3}, "energy_range_gev must satisfy 0.05 <= low < high <= 10000"),
        ({"noise_mev": -1.0}, "noise_mev: Value error, noise_mev must be >= 0, got -1.0"),
        ({"noise_mev": [0.0, 1.0, -2.0, 0.0]}, "noise_mev: Value error, noise_mev must be >= 0"),
        ({"particle": "muon"}, "particle: Input should be 'photon', 'electron' or 'positron'"),
        ({"sampling_term": 1.0}, "sampling_term: Input should be less than 1"),
        ({"chunk_size": 0}, "chunk_size: Input should be greater than or equal to 1"),
    ],
)
def test_impossible_values_are_config_errors_naming_the_field(fields, message):
    with pytest.raises(ConfigError) as err:
        load_sim_config(None, **fields)
    text = str(err.value)
    assert text.startswith("simulator config: ") and message in text and "\n" not in text


def test_an_unknown_geometry_names_the_valid_ones():
    with pytest.raises(HepganError, match="unknown geometry 'atlas267'; valid names: atlas266, calochallenge-1"):
        load_sim_config(None, geometry="atlas267")


def test_an_unknown_geometry_in_a_file_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("geometry: atlas267\n")
    with pytest.raises(ConfigError, match=r"sim.yaml: unknown geometry 'atlas267'"):
        load_sim_config(path)


def test_nested_sections_are_strict_and_their_errors_give_the_dotted_path(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("spots:\n  enbled: false\nlongitudinal:\n  t_hom: deep\n")
    with pytest.raises(ConfigError) as err:
        load_sim_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert "spots.enbled: Extra inputs are not permitted" in text
    assert "longitudinal.t_hom: Input should be a valid number" in text
    path.write_text("spots:\n  enabled: false\nlongitudinal:\n  t_hom: -0.5\n")
    config = load_sim_config(path)
    assert config.spots.enabled is False and config.longitudinal.t_hom == -0.5
    assert config.longitudinal.a_hom == SimConfig().longitudinal.a_hom  # the rest keep their defaults


def test_unreadable_and_malformed_files_are_config_errors_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read config \(No such file or directory\)"):
        load_sim_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_sim_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_sim_config(empty) == SimConfig()


def test_keyword_overrides_beat_the_file_and_none_means_not_given(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("geometry: calogan\nseed: 7\nenergies_gev: [10]\nevents_per_energy: 50\n")
    config = load_sim_config(path, seed=3, particle=None, events_per_energy=None)
    assert config.geometry == "calogan" and config.seed == 3 and config.particle == "photon"
    assert config.energies_gev == [10.0] and config.total_events == 50
    # naming new energies drops the file's energy list but not its events_per_energy
    again = load_sim_config(path, energies_gev=[1.0, 2.0])
    assert again.energies_gev == [1.0, 2.0] and again.total_events == 100


def test_an_energy_field_in_the_overrides_replaces_the_others():
    values = {"energies_gev": [1.0], "events_per_energy": 5, "energy_range_gev": None, "spectrum": None, "seed": 2}
    merged = replace_energy_fields(values, {"energy_range_gev": (1.0, 2.0), "n_events": 4})
    assert merged == {"events_per_energy": 5, "seed": 2, "energy_range_gev": (1.0, 2.0), "n_events": 4}
    merged = replace_energy_fields(values, {"spectrum": "calochallenge-1"})
    assert merged == {"seed": 2, "spectrum": "calochallenge-1"}  # events_per_energy means nothing beside it
    assert replace_energy_fields(values, {"seed": 3}) == {**values, "seed": 3}


def test_total_events_whichever_way_the_energies_are_given():
    assert SimConfig(energies_gev=[1.0, 2.0, 4.0], events_per_energy=7).total_events == 21
    assert SimConfig(energy_range_gev=(1.0, 100.0), n_events=33).total_events == 33
    default = SimConfig()
    assert default.total_events == len(default.energies_gev) * default.events_per_energy


def test_a_config_is_frozen():
    config = SimConfig(seed=4)
    with pytest.raises(ValidationError):
        config.seed = 5
    assert config.seed == 4


def test_scaled_radial_profile_widens_core_and_tail_and_keeps_their_evolution():
    radial = RadialParameters()
    wide = radial.scaled(1.5)
    assert wide.rc == pytest.approx(tuple(1.5 * v for v in radial.rc))
    assert wide.rt[:2] == pytest.approx((1.5 * radial.rt[0], 1.5 * radial.rt[1])) and wide.rt[2:] == radial.rt[2:]
    assert wide.rc_sam == pytest.approx(tuple(1.5 * v for v in radial.rc_sam))
    assert wide.rt_sam == pytest.approx(tuple(1.5 * v for v in radial.rt_sam))
    assert wide.wc == radial.wc and wide.wc_sam == radial.wc_sam  # the core/tail weights do not change
    assert radial.scaled(1.0) == radial and RadialParameters() == radial  # the original is untouched
