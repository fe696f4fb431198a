"""Data-parallel training: two ``hepgan train`` processes with torchrun's environment (gloo, CPU)
train like one process with the same global batch, and only rank 0 writes the run directory.

The config has no batch norm and no minibatch-std layer: those see only a rank's shard, so with
them the ranks (rightly) differ from one process over the whole batch.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from hepgan.errors import ConfigError
from hepgan.train import Trainer, load_train_config
from hepgan.train.checkpoint import load_checkpoint
from hepgan.train.distributed import DataParallel
from tests.helpers import shower_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(run_dir, shower_file):
    # a summary critic with its own penalty, instance noise, dataset-drawn generator conditions:
    # every per-sample random draw of a step, and the double backward of two gradient penalties
    return shower_config(run_dir, shower_file, schedule={"steps": 4, "batch_size": 32, "n_critic": 2},
                         model={"family": "cwgan_gp", "generator": "DENSE|32|RELU, DENSE|266|SOFTPLUS",
                                "critic": "DENSE|32|LEAKYRELU, DENSE|1|LINEAR", "latent_dim": 8,
                                "instance_noise": 0.01, "summary_critic": {"gp_weight": 0.1}},
                         checkpoint={"every": 2, "keep_last": 5})


@pytest.mark.slow
def test_two_ranks_train_like_one_process_with_the_same_global_batch(tmp_path, shower_file):
    single = Trainer(load_train_config(_config(tmp_path / "single", shower_file)))
    single.fit()
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(yaml.safe_dump(_config(tmp_path / "ddp", shower_file)))
    # what `torchrun --nproc_per_node 2 -m hepgan train ddp.yaml` does, without its agent process
    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
           "OMP_NUM_THREADS": "1"}
    ranks = [subprocess.Popen([sys.executable, "-m", "hepgan", "train", str(config_file), "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}) for rank in (0, 1)]
    try:
        outputs = [proc.communicate(timeout=180) for proc in ranks]
    finally:
        for proc in ranks:
            proc.kill()
    for proc, (_, err) in zip(ranks, outputs):
        assert proc.returncode == 0, err[-2000:]
    assert "trained 4 steps" in outputs[0][0] and outputs[1][0] == ""  # rank 0 speaks for the run
    state = load_checkpoint(tmp_path / "ddp/checkpoints/last.pt")
    assert state["step"] == 4 and state["fingerprint"] == single.config.fingerprint()
    generator = {k: v for k, v in state["model"].items() if k.startswith("generator.")}
    for name, value in generator.items():
        torch.testing.assert_close(value, single.model.state_dict()[name], rtol=0, atol=1e-6, msg=name)
    single_state = load_checkpoint(tmp_path / "single/checkpoints/last.pt")
    assert torch.equal(state["rng"]["torch"], single_state["rng"]["torch"])  # the random stream advanced alike
    ddp_logs = [json.loads(line) for line in (tmp_path / "ddp/metrics.jsonl").read_text().splitlines()]
    one_logs = [json.loads(line) for line in (tmp_path / "single/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ddp_logs] == [1, 2, 3, 4]  # written once, by rank 0
    for a, b in zip(ddp_logs, one_logs):
        assert a.keys() == b.keys()
        for key in ("loss_d", "loss_g", "gp", "wasserstein"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    assert sorted(p.name for p in (tmp_path / "ddp/checkpoints").iterdir()) == \
        ["last.pt", "step-000000002.pt", "step-000000004.pt"]


def test_each_rank_keeps_its_rows_of_a_global_draw():
    def draws(n):
        return (torch.randn(n, 3), torch.rand((n, 1)), torch.randint(10, (n,)), torch.randn_like(torch.zeros(n, 2)),
                torch.multinomial(torch.ones(5), n, replacement=True))

    torch.manual_seed(5)
    whole = draws(8)
    after = torch.get_rng_state()
    for rank in (0, 1):
        torch.manual_seed(5)
        with DataParallel(rank, 2).sharded_randomness(4):
            mine = draws(4)
        assert torch.equal(torch.get_rng_state(), after)  # the stream advanced as in one process
        for full, part in zip(whole, mine):
            assert torch.equal(part, full[4 * rank : 4 * rank + 4])
        with DataParallel(rank, 2).sharded_randomness(4):
            assert torch.randn(3, 4).shape == (3, 4)  # not a per-sample draw: left alone
    assert DataParallel(1, 2).shard(torch.arange(10)).tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ConfigError, match="must be a multiple of the world size 4"):
        DataParallel(0, 4).local_batch(30)
