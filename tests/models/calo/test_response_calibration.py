"""The response calibration: the identity until fitted, then each energy's generated E_tot / E
mapped onto the training data's distribution (mean, width and tails), linearly in between, every
shower scaled by one factor that keeps its rank; and the trainer fitting it into the checkpoint
that report and generate use."""

import pytest
import torch

from hepgan.models.calo.response_calibration import MAX_POINTS, ResponseCalibration
from hepgan.train import Trainer, load_train_config
from hepgan.train.checkpoint import load_checkpoint
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config
from tests.models.calo._helpers import CALO_MODEL

SHARES = torch.tensor([0.1, 0.3, 0.6])


def _showers(cond: torch.Tensor, mean: float, width: float, seed: int) -> torch.Tensor:
    """(N, 3) cells with E_tot / E ~ N(mean x (1 + 0.05 c), (width x (1 + 0.5 c))^2) at energy c."""
    noise = torch.randn(len(cond), generator=torch.Generator().manual_seed(seed))
    c = cond[:, 0]
    response = mean * (1 + 0.05 * c) + width * (1 + 0.5 * c) * noise
    return response[:, None] * SHARES


def _moments(x: torch.Tensor, cond: torch.Tensor, c: float) -> tuple[float, float]:
    r = x.sum(dim=1)[cond[:, 0] == c].double()
    return float(r.mean()), float(r.std() / r.mean())


def test_the_calibration_is_the_identity_until_fitted():
    x, cond = torch.rand(50, 3), torch.randn(50, 2)
    torch.testing.assert_close(ResponseCalibration()(x, cond), x)


def test_each_energy_gets_the_datas_mean_and_width_and_the_shares_stay():
    cond = torch.repeat_interleave(torch.tensor([-1.0, 0.0, 1.0]), 20_000)[:, None]
    data = _showers(cond, 1.0, 0.05, seed=0)
    calibration = ResponseCalibration()
    draws = iter(range(1, 100))

    def generate(c):  # too low by 3 % and 20 % too narrow, through the calibration
        return calibration(_showers(c, 0.97, 0.04, seed=next(draws)), c)

    scales = calibration.fit(generate, data, cond)
    assert list(scales) == [-1.0, 0.0, 1.0] and all(1.15 < s < 1.3 for s in scales.values())
    made = generate(cond)
    for c in (-1.0, 0.0, 1.0):
        (mean, width), (target_mean, target_width) = _moments(made, cond, c), _moments(data, cond, c)
        assert mean == pytest.approx(target_mean, rel=2e-3) and width == pytest.approx(target_width, rel=0.02)
    torch.testing.assert_close(made / made.sum(dim=1, keepdim=True), SHARES.expand(len(made), 3))
    # between two points the map is the straight line between theirs; beyond the last it is flat
    raw = torch.ones(4, 3)
    at = calibration(raw, torch.tensor([[0.0], [0.25], [1.0], [7.0]])).sum(dim=1)
    assert float(at[1]) == pytest.approx(0.75 * float(at[0]) + 0.25 * float(at[2]), rel=1e-5)
    assert float(at[3]) == pytest.approx(float(at[2]), rel=1e-6)


def test_a_gaussian_response_gets_the_datas_low_tail_and_keeps_each_showers_rank():
    """The 65-262 GeV case: the data have a narrow core and a low tail (energy lost), the
    generator a wider Gaussian of the same width; mean and width alone cannot fix the core."""
    cond = torch.zeros(40_000, 1)
    noise = torch.Generator().manual_seed(0)
    core = 1.0 + 0.01 * torch.randn(len(cond), generator=noise)
    lost = torch.where(torch.rand(len(cond), generator=noise) < 0.1,
                       torch.empty(len(cond)).exponential_(30.0, generator=noise), torch.zeros(len(cond)))
    data = (core - lost)[:, None] * SHARES
    width = float(data.sum(dim=1).std())
    raw = (float(data.sum(dim=1).mean()) + width * torch.randn(len(cond), generator=noise))[:, None] * SHARES
    calibration = ResponseCalibration()
    calibration.fit(lambda c: calibration(raw, c), data, cond)
    made, wanted = calibration(raw, cond).sum(dim=1), data.sum(dim=1)
    levels = torch.tensor([0.01, 0.05, 0.25, 0.5, 0.75, 0.95])
    torch.testing.assert_close(torch.quantile(made, levels), torch.quantile(wanted, levels), rtol=0, atol=2e-3)
    made_core, wanted_core = (r[(r - r.median()).abs() < 0.02] for r in (made, wanted))
    assert float(made_core.std()) == pytest.approx(float(wanted_core.std()), rel=0.05)
    order = torch.argsort(raw.sum(dim=1))
    assert torch.all(made[order][1:] >= made[order][:-1] - 1e-5)  # up to float32 rounding of the sums


def test_a_checkpoint_of_the_affine_calibration_loads_as_the_same_map():
    scale, shift = torch.linspace(0.9, 1.2, MAX_POINTS), torch.linspace(-0.05, 0.02, MAX_POINTS)
    old = {"centres": torch.arange(MAX_POINTS, dtype=torch.float32), "scale": scale, "shift": shift}
    calibration = ResponseCalibration()
    calibration.load_state_dict(old)
    x = torch.rand(200, 3) + 0.2
    cond = torch.rand(200, 1) * (MAX_POINTS - 1)
    at = torch.clamp(cond[:, 0], 0, MAX_POINTS - 1)
    low, w = at.floor().long().clamp(max=MAX_POINTS - 2), at - at.floor().clamp(max=MAX_POINTS - 2)
    expected = ((1 - w) * scale[low] + w * scale[low + 1]) * x.sum(dim=1) + (1 - w) * shift[low] + w * shift[low + 1]
    torch.testing.assert_close(calibration(x, cond).sum(dim=1), expected, rtol=1e-5, atol=1e-5)


def test_refitting_a_calibrated_generator_gives_the_same_map():
    cond = torch.repeat_interleave(torch.tensor([0.0, 1.0]), 20_000)[:, None]
    data = _showers(cond, 1.0, 0.05, seed=0)
    calibration = ResponseCalibration()
    draws = iter(range(1, 100))
    first = calibration.fit(lambda c: calibration(_showers(c, 1.0, 0.04, seed=next(draws)), c), data, cond)
    second = calibration.fit(lambda c: calibration(_showers(c, 1.0, 0.04, seed=next(draws)), c), data, cond)
    assert first == pytest.approx(second, rel=0.03)


def test_a_continuous_energy_spectrum_gets_quantile_points():
    cond = torch.rand(40_000, 1) * 4 - 2
    data = _showers(cond, 1.0, 0.05, seed=0)
    calibration = ResponseCalibration()
    scales = calibration.fit(lambda c: calibration(_showers(c, 1.0, 0.05, seed=1), c), data, cond)
    assert len(scales) == MAX_POINTS and torch.all(calibration.centres[1:] > calibration.centres[:-1])
    assert all(0.85 < s < 1.15 for s in scales.values())  # the same width: about 1
    with pytest.raises(ValueError, match="needs training showers"):
        calibration.fit(lambda c: c, data[:1], cond[:1])


def test_training_calibrates_the_checkpoint_that_report_uses(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"cell_fluctuations": 4.0, "calibrate_response": True}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 4, "batch_size": 32, "ema_decay": 0.9}))
    trainer = Trainer(config)
    trainer.fit()
    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert not torch.allclose(state["ema"]["calibration.tail_slope"], torch.ones(MAX_POINTS))
    gen = TrainedGenerator.from_run(tmp_path / "run", which="last")
    x, cond = trainer.data.train.x, trainer.data.train.cond
    with torch.no_grad():
        made = torch.cat([gen.network(torch.randn(len(cond), gen.latent_dim), cond) for _ in range(8)])
    made_cond = torch.cat([cond] * 8)
    for c in torch.unique(cond[:, 0]).tolist():
        (mean, width), (target_mean, target_width) = _moments(made, made_cond, c), _moments(x, cond, c)
        assert mean == pytest.approx(target_mean, rel=0.02) and width == pytest.approx(target_width, rel=0.15)


def test_a_run_resumed_from_a_calibrated_checkpoint_trains_on_the_raw_generator(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"cell_fluctuations": 4.0, "calibrate_response": True}}
    Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                            schedule={"steps": 4, "batch_size": 32, "ema_decay": 0.9}))).fit()
    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")  # calibrated: no best checkpoint
    assert not torch.allclose(state["ema"]["calibration.knots_in"], state["ema"]["calibration.knots_out"])
    longer = Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                                     schedule={"steps": 6, "batch_size": 32, "ema_decay": 0.9})))
    longer.load_state(state)
    for generator in (longer.model.generator, longer.ema):
        torch.testing.assert_close(generator.calibration.knots_in, generator.calibration.knots_out)
        torch.testing.assert_close(generator.calibration.tail_slope, torch.ones(MAX_POINTS))
