"""Physics figures of the reference simulator, as quoted in the docs and closing notes.

1. Energy response and resolution per energy on atlas266 (photons): the total E_tot/E_inc width,
   and the sampling part alone (visible / deposited energy), against the configured terms.
2. Shape figures at each energy: mean shower depth, strip width, middle-layer R_eta and R_phi.
3. Comparison with the 51 real Geant4 CaloGAN showers (../shared/data): layer energy fractions
   and containment per energy bin, real vs simulated photons, positrons and their equal mix, and
   a probability-integral-transform KS test of each real shower's layer fractions.

Usage: python scripts/validate_simulator.py [--events 10000] [--calogan PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import stats

from hepgan.geometry import get_geometry
from hepgan.sim import SEED_ENERGIES_GEV, SimConfig, simulate, simulate_with_truth

DEFAULT_CALOGAN = Path(__file__).resolve().parents[1].parent / "shared/data/calogan/geant4_calogan_51events.h5"


def resolution_table(events: int) -> None:
    g = get_geometry("atlas266")
    centres = np.array([0.5 * (a + b) for a, b in (layer.depth_x0 for layer in g.layers)])
    config = SimConfig(events_per_energy=events)
    print(f"atlas266 photons, {events} showers per energy, a = {config.sampling_term}, b = {config.constant_term}")
    print(f"{'E [GeV]':>8} {'<Etot/E>':>9} {'sigma/mu':>9} {'sampling':>9} {'expected':>9} {'ratio':>6} "
          f"{'depth X0':>9} {'strip rms':>9} {'R_eta':>7} {'R_phi':>7}")
    for energy in SEED_ENERGIES_GEV:
        data, truth = simulate_with_truth(config.model_copy(update={"energies_gev": [energy]}))
        showers = data.showers.astype(np.float64)
        e_tot = showers.sum(1)
        response = e_tot / data.incident_energies[:, 0]
        sampled = e_tot / truth.deposited_mev
        expected = np.sqrt(config.sampling_term**2 / (truth.deposited_mev.mean() / 1000) + config.constant_term**2)
        layers = g.layer_energies(showers)
        depth = np.nanmean((layers * centres).sum(1) / layers.sum(1))
        _, strips, middle, _ = g.split(showers)
        profile = strips.sum(-1)
        keep = profile.sum(1) > 0
        x = np.arange(profile.shape[1])
        mean = (profile[keep] * x).sum(1) / profile[keep].sum(1)
        rms = np.sqrt((profile[keep] * (x - mean[:, None]) ** 2).sum(1) / profile[keep].sum(1))
        with np.errstate(invalid="ignore"):  # showers with an empty middle layer have no ratio
            r_eta = np.nanmedian(middle[:, 2:5, :].sum((1, 2)) / middle.sum((1, 2)))
            r_phi = np.nanmedian(middle[:, 2:5, 2:5].sum((1, 2)) / middle[:, 2:5, :].sum((1, 2)))
        width = sampled.std() / sampled.mean()
        print(f"{energy:>8g} {response.mean():>9.4f} {response.std() / response.mean():>9.4f} {width:>9.4f} "
              f"{expected:>9.4f} {width / expected:>6.3f} {depth:>9.2f} {np.median(rms):>9.2f} {r_eta:>7.3f} {r_phi:>7.3f}")


def calogan_comparison(path: Path, per_shower: int) -> None:
    from hepgan.data.calogan import read_calogan

    g = get_geometry("calogan")
    real = read_calogan(path)
    e_gev = real.incident_energies[:, 0] / 1000
    real_layers = g.layer_energies(real.showers)
    real_frac = real_layers / real_layers.sum(1, keepdims=True)
    sims = {p: [] for p in ("photon", "positron")}
    for i, energy in enumerate(e_gev):
        for p in sims:
            s = simulate(geometry="calogan", particle=p, energies_gev=[float(energy)], events_per_energy=per_shower,
                         sampling_term=0.0, constant_term=0.0, seed=1000 + i)
            sims[p].append(g.layer_energies(s.showers.astype(np.float64)))
    print(f"\nCaloGAN geometry: {len(e_gev)} real Geant4 showers ({path.name}) vs hepgan, {per_shower} simulated "
          "showers of each particle at each real shower's energy (no sampling fluctuations: CaloGAN files hold all deposits)")
    print(f"{'E bin GeV':>10} {'n':>3} {'quantity':>9} {'real':>15} {'sim photon':>15} {'sim positron':>15} {'sim mix':>15}")
    bins = [1, 10, 30, 60, 100]
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = np.flatnonzero((e_gev >= lo) & (e_gev < hi))
        rows = {}
        for p in sims:
            layers = np.concatenate([sims[p][i] for i in sel])
            rows[p] = (layers / layers.sum(1, keepdims=True), layers.sum(1) / np.repeat(e_gev[sel] * 1000, per_shower))
        for k, name in enumerate(("f0", "f1", "f2")):
            fmt = (lambda v: f"{v.mean():.4f}+-{v.std():.4f}")
            mix = np.concatenate([rows["photon"][0][:, k], rows["positron"][0][:, k]])
            print(f"{f'{lo}-{hi}':>10} {len(sel):>3} {name:>9} {fmt(real_frac[sel, k]):>15} {fmt(rows['photon'][0][:, k]):>15} "
                  f"{fmt(rows['positron'][0][:, k]):>15} {fmt(mix):>15}")
        resp_real = real_layers[sel].sum(1) / (e_gev[sel] * 1000)
        mix_resp = np.concatenate([rows["photon"][1], rows["positron"][1]])
        print(f"{'':>10} {'':>3} {'Etot/E':>9} {resp_real.mean():>15.4f} {rows['photon'][1].mean():>15.4f} "
              f"{rows['positron'][1].mean():>15.4f} {mix_resp.mean():>15.4f}")
    for k, name in enumerate(("f0", "f1", "f2")):
        pit = []
        for i in range(len(e_gev)):
            layers = np.concatenate([sims["photon"][i], sims["positron"][i]])
            frac = layers[:, k] / layers.sum(1)
            pit.append(np.mean(frac < real_frac[i, k]) + 0.5 * np.mean(frac == real_frac[i, k]))
        print(f"PIT of real {name} in the simulated photon/positron mix: KS p-value vs uniform = "
              f"{stats.kstest(pit, 'uniform').pvalue:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--per-shower", type=int, default=500)
    parser.add_argument("--calogan", type=Path, default=DEFAULT_CALOGAN)
    args = parser.parse_args()
    resolution_table(args.events)
    if args.calogan.exists():
        calogan_comparison(args.calogan, args.per_shower)
    else:
        print(f"\n{args.calogan} not found: skipping the comparison with real Geant4 showers")


if __name__ == "__main__":
    main()
