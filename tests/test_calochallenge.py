"""The CaloChallenge dataset-3 loop end to end on a small sample: showers simulated at the
challenge's spectrum, training read from the file in blocks (the memory budget is set below the
file's size), generation at the reference file's conditions, and the streamed evaluation."""

import json

import numpy as np

from hepgan import api
from hepgan.data.hdf5 import ShowerFile
from hepgan.train import load_train_config
from hepgan.train.trainer import Trainer


def test_dataset_3_trains_from_the_file_in_blocks_generates_and_evaluates(tmp_path):
    config = load_train_config(
        "configs/calochallenge-3.yaml", run_dir=str(tmp_path / "run"), threads=1,
        **{"data.simulate.n_events": 120, "data.cache_dir": str(tmp_path / "cache"), "data.memory_mb": 16, "data.validation_fraction": 0.25,
           "model.layered": {"width": 16, "depth": 1}, "schedule.steps": 2, "schedule.batch_size": 8,
           "eval.every": 2, "eval.n_generated": 40, "eval.metrics": ["physics"], "log.progress": False, "checkpoint.every": 2})
    trainer = Trainer(config)
    train = trainer.data.train
    assert train.streamed and train.x.block_rows * train.x.cache_limit < len(train)  # never all of it at once
    assert trainer.fit().steps == 2

    reference = tmp_path / "ref.h5"
    api.simulate(geometry="calochallenge-3", particle="electron", spectrum="calochallenge-3", n_events=40, seed=2,
                 out=reference)
    generated = tmp_path / "gen.h5"
    api.generate(config.run_dir, like=str(reference), out=generated)
    with ShowerFile(generated) as g, ShowerFile(reference) as r:
        assert len(g) == len(r) == 40 and g.geometry == "calochallenge-3"
        assert np.array_equal(g.read_conditions()[0], r.read_conditions()[0])
    result = api.evaluate(generated, reference, classifier=False, out=tmp_path / "metrics.json")
    assert result["generated"]["n"] == 40 and result["summary"]["fpd"] is not None
    assert json.loads((tmp_path / "metrics.json").read_text())["geometry"] == "calochallenge-3"
