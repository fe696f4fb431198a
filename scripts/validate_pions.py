"""Pion figures of the reference simulator against the published ATLAS barrel measurements.

For calochallenge-1-pions (the ATLAS barrel at |eta| 0.20-0.25: presampler, three liquid-argon
layers, three tile layers) at the 1996 combined test's beam energies: the energy reconstructed with
the test's e/h method (hepgan.sim.testbeam) and its relative width against the published
[58 %/sqrt(E) + 2.5 %] (noise term left out), the electron-scale response, the share of the
energy in the tile calorimeter, the fraction of pions that start showering in it against
exp(-lambda in front), and e/pi of the tile calorimeter (pions starting in its first lambda_I)
against (e/h) / (1 + (e/h - 1) <f_em>) with its published e/h = 1.362.

Usage: python scripts/validate_pions.py [--events 5000] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np

from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig, simulate_with_truth
from hepgan.sim.testbeam import (
    EH_METHOD_RESOLUTION,
    TEST_BEAM_ENERGIES_GEV,
    compartment_energies,
    eh_reconstruction,
    fit_cryostat_weight,
    published_resolution,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    geometry = get_geometry("calochallenge-1-pions")
    front = geometry.hadronic.front_lambda("hadronic")
    params = SimConfig().hadronic
    rows, samples = [], []
    for energy in TEST_BEAM_ENERGIES_GEV:
        config = SimConfig(geometry=geometry.name, particle="pion+", energies_gev=[energy],
                           events_per_energy=args.events, seed=args.seed)
        data, truth = simulate_with_truth(config)
        parts = {k: v / 1000.0 for k, v in compartment_energies(geometry, data.showers).items()}
        scale = geometry.path_scale(data.conditions, len(data))
        samples.append((energy, parts))
        rows.append((energy, parts, truth, scale))
    alpha = fit_cryostat_weight(samples, params)
    print(f"calochallenge-1-pions, pion+, {args.events} showers per energy; cryostat weight alpha = {alpha:.2f}")
    print(f"{'E [GeV]':>8} {'E_rec/E':>8} {'sigma/E':>8} {'publ.':>7} {'ratio':>6} {'E_em/E':>7} "
          f"{'tile':>6} {'start>tile':>10} {'exp(-l)':>8} {'e/pi tile':>9} {'expected':>8}")
    for energy, parts, truth, scale in rows:
        ratio = eh_reconstruction(parts, params, alpha) / energy
        width = ratio.std() / ratio.mean()
        published = float(published_resolution(energy, EH_METHOD_RESOLUTION))
        total = parts["em"] + parts["hadronic"]
        late = truth.start_depth_lambda > front * scale
        early_tile = late & (truth.start_depth_lambda < (front + 1.0) * scale)
        e_over_pi = energy / parts["hadronic"][early_tile].mean()
        print(f"{energy:>8g} {ratio.mean():>8.3f} {width:>8.4f} {published:>7.4f} {width / published:>6.2f} "
              f"{total.mean() / energy:>7.3f} {np.mean(parts['hadronic'] / total):>6.3f} {late.mean():>10.4f} "
              f"{np.mean(np.exp(-front * scale)):>8.4f} {e_over_pi:>9.3f} {float(params.e_over_pi('hadronic', energy)):>8.3f}")


if __name__ == "__main__":
    main()
