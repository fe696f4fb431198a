"""Small training configs shared by the trainer and model tests."""


def shower_config(run_dir, shower_file, **sections):
    config = {
        "run_dir": str(run_dir),
        "seed": 1,
        "threads": 1,
        "data": {"kind": "showers", "path": str(shower_file), "conditions": ["energy", "impact_eta"]},
        "preprocessing": [{"type": "EnergyNormalize"}],
        "model": {"family": "cwgan_gp", "generator": "DENSE|32|RELU, DENSE|266|SOFTPLUS",
                  "critic": "DENSE|32|LEAKYRELU, DENSE|1|LINEAR", "latent_dim": 8},
        "schedule": {"steps": 6, "batch_size": 32, "n_critic": 2},
        "checkpoint": {"every": 3, "keep_last": 2},
        "log": {"every": 1, "progress": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def image_config(run_dir, mnist_dir, family, generator, critic, **sections):
    config = {
        "run_dir": str(run_dir),
        "seed": 2,
        "threads": 1,
        "data": {"kind": "images", "mnist_dir": str(mnist_dir), "conditional": family in ("cgan", "cgan_mbl", "cwgan_gp")},
        "model": {"family": family, "generator": generator, "critic": critic, "latent_dim": 16},
        "optim": {"lr_g": 2e-4, "lr_d": 2e-4},
        "schedule": {"steps": 3, "batch_size": 16, "n_critic": 1},
        "checkpoint": {"every": 3},
        "log": {"every": 1, "progress": False},
    }
    for key, value in sections.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and isinstance(config.get(key), dict) else value
    return config
