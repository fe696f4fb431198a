"""The per-energy quantile maps behind the calibrations: one independent map per channel and
point, monotone, mixed linearly in the energy, identity where a point has too few showers."""

import torch

from hepgan.models.calo.quantile_map import MAX_POINTS, MIN_SHOWERS, QuantileMaps


def test_each_channel_and_energy_gets_its_own_map_and_sparse_points_stay_the_identity():
    noise = torch.Generator().manual_seed(0)
    energy = torch.cat([torch.zeros(4000), torch.ones(4000), torch.full((MIN_SHOWERS - 1,), 2.0)])
    made = torch.randn(len(energy), 2, generator=noise)
    # the data: channel 0 shifted by the energy, channel 1 twice as wide; point 2 too sparse to fit
    wanted = torch.stack([torch.randn(len(energy), generator=noise) + energy,
                          2 * torch.randn(len(energy), generator=noise)], dim=1)
    maps = QuantileMaps(channels=(2,))
    points = maps.fit_maps(wanted, made, energy)
    assert points.tolist() == [0.0, 1.0, 2.0] and maps.knots_in.shape == (2, MAX_POINTS, 29)
    probe = torch.linspace(-1.0, 1.0, 5)[:, None].expand(-1, 2)
    for e, shift in ((0.0, 0.0), (1.0, 1.0)):
        out = maps.mapped(probe, torch.full((5,), e))
        torch.testing.assert_close(out[:, 0], probe[:, 0] + shift, rtol=0, atol=0.1)
        torch.testing.assert_close(out[:, 1], 2 * probe[:, 1], rtol=0, atol=0.15)
    torch.testing.assert_close(maps.mapped(probe, torch.full((5,), 2.0)), probe)  # identity at the sparse point
    halfway = maps.mapped(probe, torch.full((5,), 0.5))
    torch.testing.assert_close(halfway, 0.5 * (maps.mapped(probe, torch.zeros(5)) + maps.mapped(probe, torch.ones(5))))
    dense = torch.linspace(-6.0, 6.0, 401)[:, None].expand(-1, 2)
    assert torch.all(torch.diff(maps.mapped(dense, torch.full((401,), 0.3)), dim=0) > 0)  # monotone, tails included
    maps.reset()
    torch.testing.assert_close(maps.mapped(probe, torch.full((5,), 0.7)), probe)
