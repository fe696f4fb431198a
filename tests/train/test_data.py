"""Training data from a data config: shower and image samples in model space, encoded conditions,
the train/validation split and the showers held out of training."""

import numpy as np
import pytest
import torch

from hepgan.data.hdf5 import read_showers, write_showers
from hepgan.errors import ConfigError
from hepgan.sim import SimConfig, simulate
from hepgan.train import load_train_config
from hepgan.train.config import ShowerDataConfig
from hepgan.train.data import partition_showers, prepare_data, simulation_cache_path, split_indices
from tests.helpers import image_config, shower_config


def test_the_split_is_disjoint_complete_and_fixed_by_the_seed():
    train, val = split_indices(103, 0.1, seed=4)
    assert len(val) == 10 and len(train) == 93  # round(10.3)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(103))
    assert (np.diff(train) > 0).all() and (np.diff(val) > 0).all()
    again, other = split_indices(103, 0.1, seed=4), split_indices(103, 0.1, seed=5)
    assert np.array_equal(again[1], val) and not np.array_equal(other[1], val)
    assert len(split_indices(50, 0.0, seed=1)[1]) == 0


def test_excluded_energies_are_held_out_and_max_events_caps_the_rest(shower_file):
    data = read_showers(shower_file)  # 120 showers at each of 2, 8 and 32 GeV
    energies = data.incident_energies[:, 0]
    cfg = ShowerDataConfig(path=str(shower_file), exclude_energies_gev=[8.0])
    used, held_out = partition_showers(data, cfg)
    assert np.array_equal(held_out, np.isclose(energies, 8000.0)) and np.array_equal(used, ~held_out)
    capped, _ = partition_showers(data, ShowerDataConfig(path=str(shower_file), exclude_energies_gev=[8.0],
                                                         max_events=100))
    assert capped.sum() == 100 and not (capped & held_out).any()
    assert np.array_equal(np.flatnonzero(capped), np.flatnonzero(used)[:100])  # the first 100 of those used


def test_simulated_data_are_cached_under_a_hash_of_their_settings(tmp_path):
    def path(**sim):
        return simulation_cache_path(ShowerDataConfig(simulate=SimConfig(**sim), cache_dir=str(tmp_path)))

    a = path(energies_gev=[2.0], events_per_energy=10, seed=1)
    assert a.parent == tmp_path and a.name.startswith("sim-atlas266-") and a.suffix == ".h5"
    assert path(energies_gev=[2.0], events_per_energy=10, seed=1) == a
    assert path(energies_gev=[2.0], events_per_energy=10, seed=2) != a


def test_shower_conditions_are_encoded_and_the_samples_invert_to_mev(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             data={"conditions": ["energy", "impact_eta"]}))
    data = prepare_data(config)
    assert data.kind == "showers" and data.geometry == "atlas266" and data.sample_shape == (266,)
    assert data.cond_dim == 2 and len(data.train) + len(data.val) == 360 and len(data.val) == 36
    cond = data.train.cond.numpy()
    np.testing.assert_allclose(cond.mean(0), 0.0, atol=1e-5)  # standardised on the training rows
    np.testing.assert_allclose(cond.std(0), 1.0, rtol=1e-3)
    np.testing.assert_allclose(cond[:, 0], (np.log(data.train.energies_mev) - np.log(data.train.energies_mev).mean())
                               / np.log(data.train.energies_mev).std(), rtol=1e-4, atol=1e-5)
    original = read_showers(shower_file)
    rows = [int(np.flatnonzero((original.incident_energies[:, 0] == e)
                               & (original.conditions["impact_eta"][:, 0] == eta))[0])
            for e, eta in zip(data.val.energies_mev[:5], data.val.physical["impact_eta"][:5])]
    back = data.to_physical(data.val.x[:5].numpy(), data.val.energies_mev[:5])
    np.testing.assert_allclose(back, original.showers[rows], rtol=1e-5, atol=1e-3)


def test_conditions_the_data_cannot_give_are_named(tmp_path):
    path = tmp_path / "cc1.h5"  # calochallenge-1-photons: an impact eta, no impact phi, no anchor cell
    write_showers(path, simulate(SimConfig(geometry="calochallenge-1-photons", energies_gev=[4.0, 64.0],
                                           events_per_energy=10, seed=2)))
    for conditions, message in ((["energy", "impact_phi"], r"asks for 'impact_phi' but the data has \['impact_eta'\]"),
                                (["energy", "alignment"], "'alignment' needs windows around an anchor cell")):
        config = load_train_config(shower_config(tmp_path / "run", path, data={"conditions": conditions}))
        with pytest.raises(ConfigError, match=message):
            prepare_data(config)


def test_images_are_scaled_to_plus_minus_one_with_one_hot_labels(tmp_path, mnist_dir):
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan", "mlp-gan-g", "mlp-gan-d",
                                            data={"max_events": 200}))
    data = prepare_data(config)
    assert data.kind == "images" and data.sample_shape == (1, 28, 28) and data.transform is None
    assert len(data.train) + len(data.val) == 200 and data.cond_dim == 10
    x = data.train.x
    assert float(x.min()) == -1.0 and float(x.max()) <= 1.0
    assert torch.equal(data.train.cond.argmax(1), data.train.labels) and torch.equal(data.train.cond.sum(1),
                                                                                        torch.ones(len(x)))
    assert np.array_equal(data.to_physical(np.array([[-1.0, 0.0, 1.0, 1.5]]), None), [[0.0, 127.5, 255.0, 255.0]])


def test_validation_image_metrics_on_images_that_are_not_mnist_come_with_a_warning(tmp_path, mnist_dir, mnist_test):
    from hepgan.data.idx import write_idx
    from hepgan.errors import HepganWarning

    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan", "mlp-gan-g", "mlp-gan-d",
                                            data={"max_events": 200}, eval={"every": 2, "metrics": ["inception"]}))
    with pytest.warns(HepganWarning, match="inception score these images with the packaged MNIST LeNet"):
        prepare_data(config)
    mnist = tmp_path / "mnist"  # MNIST's own test images: no warning
    mnist.mkdir()
    write_idx(mnist / "train-images-idx3-ubyte", mnist_test.images[:200])
    write_idx(mnist / "train-labels-idx1-ubyte", mnist_test.labels[:200])
    write_idx(mnist / "t10k-images-idx3-ubyte", mnist_test.images)
    write_idx(mnist / "t10k-labels-idx1-ubyte", mnist_test.labels)
    config = load_train_config(image_config(tmp_path / "run2", mnist, "cgan", "mlp-gan-g", "mlp-gan-d",
                                            data={"max_events": 200}, eval={"every": 2, "metrics": ["inception"]}))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", HepganWarning)
        prepare_data(config)


def test_scarce_energy_trains_on_its_first_showers_and_holds_out_the_rest(tmp_path, shower_file):
    """The soft-extrapolation variant: 10 showers at 32 GeV in training, the other 110 are
    reference showers for the report, never seen by the model."""
    import numpy as np

    from hepgan.data.hdf5 import read_showers
    from hepgan.report.report import _held_out_showers
    from hepgan.train.data import partition_showers, prepare_data

    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             data={"scarce_energies_gev": {32: 10}, "validation_fraction": 0.0}))
    data = prepare_data(config)
    assert len(data.train) == 120 + 120 + 10
    used, held_out = partition_showers(read_showers(shower_file), config.data)
    assert held_out.sum() == 110 and not (used & held_out).any()
    reference, marks = _held_out_showers(config, 10_000, 0)
    assert len(reference) == 110 and np.allclose(reference.incident_energies, 32_000.0)
    assert marks == {32.0: "only 10 training showers"}  # the report flags the scarce energy
    bad = load_train_config(shower_config(tmp_path / "run2", shower_file, data={"scarce_energies_gev": {50: 10}}))
    with pytest.raises(ConfigError, match="no showers at 50 GeV"):
        prepare_data(bad)
