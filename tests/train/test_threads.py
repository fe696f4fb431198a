"""threads: auto times the work with each candidate thread count and keeps the fastest."""

import time

import pytest
import torch

from hepgan.train import Trainer, load_train_config
from hepgan.train.threads import candidates, choose_threads, use_threads
from tests.helpers import shower_config


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    use_threads(before)


def test_candidates_are_one_the_powers_of_two_and_every_core():
    assert candidates(1) == [1]
    assert candidates(2) == [1, 2]
    assert candidates(6) == [1, 2, 4, 6]
    assert candidates(8) == [1, 2, 4, 8]


def test_the_fastest_count_is_kept_and_set(restore_threads):
    # work that slows down with more threads, as on a machine whose other core is busy
    choice = choose_threads(lambda: time.sleep(0.004 * torch.get_num_threads()), [1, 2], repeats=3)
    assert choice.threads == 1 and torch.get_num_threads() == 1
    assert choice.seconds[2] > choice.seconds[1]
    # work that speeds up with more threads
    choice = choose_threads(lambda: time.sleep(0.012 / torch.get_num_threads()), [1, 2], repeats=3)
    assert choice.threads == 2 and torch.get_num_threads() == 2
    assert "2 threads" in choice.describe() and "1: " in choice.describe()


def test_more_threads_must_be_clearly_faster(restore_threads):
    # equal speed: the fewer threads win (no shared cores taken for nothing)
    choice = choose_threads(lambda: time.sleep(0.005), [1, 2], repeats=3)
    assert choice.threads == 1


def test_auto_threads_leave_the_training_as_it_would_be(tmp_path, shower_file, restore_threads):
    """The probe trains a copy: the model, its optimisers and the random streams are untouched."""
    fixed = Trainer(load_train_config(shower_config(tmp_path / "fixed", shower_file)))
    fixed.fit()
    auto = Trainer(load_train_config(shower_config(tmp_path / "auto", shower_file, threads="auto")))
    assert auto.threads is not None and auto.threads.threads == torch.get_num_threads()
    torch.set_num_threads(1)  # as the fixed run, so that only the probe differs
    auto.fit()
    for key, value in fixed.model.state_dict().items():
        torch.testing.assert_close(auto.model.state_dict()[key], value, rtol=0, atol=1e-6, msg=key)


def test_a_thread_count_covers_numpys_blas_too(restore_threads):
    from threadpoolctl import threadpool_info

    use_threads(1)
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())


def test_threads_must_be_a_positive_count_or_auto(tmp_path, shower_file):
    from hepgan.errors import ConfigError

    for bad in (0, "many"):
        with pytest.raises(ConfigError, match="threads"):
            load_train_config(shower_config(tmp_path / "run", shower_file, threads=bad))


@pytest.mark.parametrize("family", ["dcgan", "cgan_mbl", "wgan_gp"])
def test_auto_threads_time_image_families_too(tmp_path, mnist_dir, family, restore_threads):
    from tests.helpers import image_config
    from tests.models.test_families import CASES

    generator, critic, extra = CASES[family]
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, family, generator, critic, model=extra,
                                            threads="auto"))
    trainer = Trainer(config)
    assert trainer.threads.threads in trainer.threads.seconds
    assert trainer.fit().steps == 3
