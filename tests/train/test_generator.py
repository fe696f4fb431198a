import numpy as np
import torch

from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config


def test_a_restored_generator_reproduces_the_trainers_samples(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 4, "ema_decay": 0.9}))
    trainer = Trainer(config)
    trainer.fit()
    restored = TrainedGenerator.from_run(tmp_path / "run")
    assert restored.step == 4 and restored.geometry == "atlas266"
    val = trainer.data.val
    n = len(val)
    conditions = dict(val.physical)
    showers = restored.generate(conditions, seed=3)
    assert showers.shape == (n, 266) and (showers >= 0).all()
    z = torch.randn(n, restored.latent_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = trainer.ema(z, val.cond).numpy().astype(np.float64) * conditions["energy"][:, None]
    np.testing.assert_allclose(showers, expected, rtol=1e-5, atol=1e-6)
    data = restored.generate_showers(conditions)
    assert data.geometry == "atlas266" and data.showers.dtype == np.float32 and "impact_eta" in data.conditions
