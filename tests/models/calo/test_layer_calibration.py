"""The layer calibration: the identity until fitted, then each energy's generated layer fractions
mapped onto the training data's distributions, E_tot and the cell shares within each layer kept,
empty layers left empty; clear errors on bad input; and the trainer fitting it, before the
response calibration, into the checkpoint that report and generate use."""

import pytest
import torch

from hepgan.models.calo.layer_calibration import LayerCalibration
from hepgan.models.calo.quantile_map import LEVELS
from hepgan.train import Trainer, load_train_config
from hepgan.train.checkpoint import load_checkpoint
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config
from tests.models.calo._helpers import CALO_MODEL

SIZES = [2, 3, 4]
SHARES = [torch.tensor([0.3, 0.7]), torch.tensor([0.2, 0.5, 0.3]), torch.tensor([0.1, 0.2, 0.3, 0.4])]


def _showers(cond: torch.Tensor, shift: float, spread: float, seed: int) -> torch.Tensor:
    """(N, 9) cells in layers of 2, 3 and 4 with fixed shares inside each layer, E_tot ~ 1, and
    layer fractions softmax(logits) whose logits move with the energy c and scatter by ``spread``."""
    noise = torch.randn(len(cond), 3, generator=torch.Generator().manual_seed(seed))
    c = cond[:, :1]
    logits = torch.tensor([-1.0, 1.0, 0.0]) + c * torch.tensor([-0.5, 0.2, 0.6]) + shift + spread * (1 + 0.5 * c) * noise
    fractions = torch.softmax(logits, dim=1)
    total = 1.0 + 0.05 * torch.randn(len(cond), 1, generator=torch.Generator().manual_seed(seed + 1000))
    return torch.cat([total * fractions[:, i : i + 1] * share for i, share in enumerate(SHARES)], dim=1)


def test_the_layer_calibration_is_the_identity_until_fitted():
    x, cond = torch.rand(50, 9), torch.randn(50, 2)
    torch.testing.assert_close(LayerCalibration(SIZES)(x, cond), x)


def test_each_energy_gets_the_datas_layer_fractions_and_totals_and_shares_stay():
    cond = torch.repeat_interleave(torch.tensor([0.0, 1.0]), 20_000)[:, None]
    data = _showers(cond, 0.0, 0.5, seed=0)
    calibration = LayerCalibration(SIZES)
    draws = iter(range(1, 100))
    raw = {}

    def generate(c):  # fractions too narrow and off-centre, through the calibration
        raw["x"] = _showers(c, torch.tensor([0.2, -0.1, 0.0]), 0.3, seed=next(draws))
        return calibration(raw["x"], c)

    widths = calibration.fit(generate, data, cond)
    assert list(widths) == [0.0, 1.0] and all(len(w) == 3 for w in widths.values())
    made = generate(cond)
    _, wanted = calibration.fractions(data)
    _, got = calibration.fractions(made)
    _, before = calibration.fractions(raw["x"])
    levels = torch.tensor([0.02, 0.16, 0.5, 0.84, 0.98])
    for c in (0.0, 1.0):
        here = cond[:, 0] == c
        target = torch.quantile(wanted[here], levels, dim=0)
        assert (torch.quantile(before[here], levels, dim=0) - target).abs().max() > 0.05
        # within 0.015: renormalising the mapped fractions to sum to one moves them a little
        torch.testing.assert_close(torch.quantile(got[here], levels, dim=0), target, rtol=0, atol=0.015)
    torch.testing.assert_close(made.sum(dim=1), raw["x"].sum(dim=1))  # E_tot as generated
    for part, share in zip(made.split(SIZES, dim=1), SHARES):
        torch.testing.assert_close(part / part.sum(dim=1, keepdim=True), share.expand(len(made), -1))
    # between two points the maps are mixed linearly, beyond the last they hold
    x = _showers(torch.zeros(1, 1), 0.0, 0.0, seed=5)
    at = [calibration.fractions(calibration(x, torch.tensor([[e]])))[1] for e in (0.0, 0.5, 1.0, 4.0)]
    torch.testing.assert_close(at[3], at[2])
    assert not torch.allclose(at[0], at[2], atol=1e-3)


def test_an_empty_layer_stays_empty_and_refitting_gives_the_same_maps():
    cond = torch.zeros(5_000, 1)
    data = _showers(cond, 0.0, 0.5, seed=0)
    calibration = LayerCalibration(SIZES)
    raw = _showers(cond, 0.0, 0.3, seed=1)
    first = calibration.fit(lambda c: calibration(raw, c), data, cond)
    second = calibration.fit(lambda c: calibration(raw, c), data, cond)
    assert first == second
    hollow = raw[:10].clone()
    hollow[:, :2] = 0.0  # no presampler deposit
    out = calibration(hollow, cond[:10])
    assert torch.all(out[:, :2] == 0) and torch.allclose(out.sum(dim=1), hollow.sum(dim=1))


def test_bad_layouts_and_inputs_are_refused():
    with pytest.raises(ValueError, match="two or more non-empty layers"):
        LayerCalibration([9])
    with pytest.raises(ValueError, match="two or more non-empty layers"):
        LayerCalibration([3, 0, 6])
    calibration = LayerCalibration(SIZES)
    with pytest.raises(ValueError, match="showers have 8 cells; the layers \\[2, 3, 4\\] need 9"):
        calibration.fit(lambda c: torch.ones(len(c), 8), torch.ones(10, 8), torch.zeros(10, 1))
    with pytest.raises(ValueError, match="needs training showers"):
        calibration.fit(lambda c: c, torch.ones(1, 9), torch.zeros(1, 1))


def test_training_calibrates_the_layers_of_the_checkpoint_that_report_uses(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"cell_fluctuations": 4.0, "calibrate_layers": True, "calibrate_response": True}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 4, "batch_size": 32, "ema_decay": 0.9}))
    trainer = Trainer(config)
    trainer.fit()
    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert not torch.allclose(state["ema"]["layer_calibration.knots_in"], state["ema"]["layer_calibration.knots_out"])
    # the maps' targets are the training showers' fraction quantiles at every energy (strips, middle)
    gen = TrainedGenerator.from_run(tmp_path / "run", which="last")
    layers = gen.network.layer_calibration
    x, cond = trainer.data.train.x, trainer.data.train.cond
    _, wanted = layers.fractions(x)
    for k, c in enumerate(torch.unique(cond[:, 0]).tolist()):
        assert float(layers.centres[k]) == pytest.approx(c)
        for layer in (1, 2):
            expected = torch.quantile(wanted[cond[:, 0] == c, layer].double(), LEVELS).float()
            torch.testing.assert_close(layers.knots_out[layer, k], expected)
    # and a generated batch passes through them before the response calibration
    with torch.no_grad():
        z = torch.randn(len(cond), gen.latent_dim)
        made = gen.network(z, cond)
        gen.network.layer_calibration = None
        unmapped = gen.network(z, cond)
    assert not torch.allclose(layers.fractions(made)[1], layers.fractions(unmapped)[1])
