"""The ``hepgan`` command. Each verb parses its arguments and calls the function of the same name
in :mod:`hepgan.api`; user errors are printed on one line with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from hepgan import api
from hepgan.errors import ConfigError, HepganError, HepganWarning
from hepgan.sim.config import SEED_ENERGIES_GEV, SUPPORTED_PARTICLES
from hepgan.sim.spectra import SPECTRA


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _range(text: str) -> tuple[float, float]:
    values = _floats(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
    return values[0], values[1]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepgan", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)

    qs = verbs.add_parser("quickstart", help="the whole loop on the default data: simulate, train the flagship "
                                             "recipe, evaluate, write the report (about 10 minutes on 2 cores)")
    qs.add_argument("--run-dir", default="runs/quickstart", help="run directory (default runs/quickstart)")
    qs.add_argument("--config", help="a training config to run instead of the shipped quickstart recipe")
    qs.add_argument("--fresh", action="store_true", help="retrain even when the run directory holds a trained model")
    qs.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set schedule.time_limit_s=120")
    qs.add_argument("--no-progress", action="store_true")

    sim = verbs.add_parser("simulate", help="simulate showers with the reference simulator into an HDF5 file")
    sim.add_argument("--config", help="YAML file with simulator settings (command-line options override it)")
    sim.add_argument("--geometry", help="geometry name (default atlas266; see 'hepgan geometries')")
    sim.add_argument("--particle", choices=list(SUPPORTED_PARTICLES),
                     help="photon, electron, positron, or pion+ / pion- (on geometries with interaction lengths)")
    sim.add_argument("--energies", type=_floats, help=f"energy points in GeV (default {','.join(f'{e:g}' for e in SEED_ENERGIES_GEV)})")
    sim.add_argument("--events-per-energy", type=int)
    sim.add_argument("--energy-range", type=_range, help="LOW,HIGH in GeV, log-uniform (needs --events)")
    sim.add_argument("--spectrum", help=f"a built-in energy spectrum instead of --energies/--energy-range: "
                                        f"{', '.join(SPECTRA)} (the CaloChallenge 2022 datasets' energies)")
    sim.add_argument("--events", type=int, help="number of showers for --energy-range; for --spectrum the total "
                                                "(default: the challenge's own, counts per energy in proportion)")
    sim.add_argument("--seed", type=int)
    sim.add_argument("--sampling-term", type=float, help="stochastic term a of sigma/E = a/sqrt(E/GeV)")
    sim.add_argument("--constant-term", type=float)
    sim.add_argument("--noise-mev", type=float, help="electronic noise per cell in MeV")
    sim.add_argument("--out", default="data/showers.h5", help="output HDF5 file (default data/showers.h5)")
    sim.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                     help="processes to simulate in (default: up to 2); the showers do not depend on it")
    sim.add_argument("--no-progress", action="store_true")

    tr = verbs.add_parser("train", help="train a GAN from a YAML config")
    tr.add_argument("config", help="training config (YAML)")
    tr.add_argument("--resume", action="store_true", help="continue the run in the config's run_dir from its last checkpoint")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set schedule.steps=100 (YAML syntax for the value)")
    tr.add_argument("--no-progress", action="store_true")

    inf = verbs.add_parser("info", help="per-energy summary of a shower file")
    inf.add_argument("path")
    inf.add_argument("--geometry")
    inf.add_argument("--json", action="store_true", help="print the summary as JSON")

    geo = verbs.add_parser("geometries", help="list the registered geometries")
    geo.add_argument("--json", action="store_true")

    ev = verbs.add_parser("evaluate", help="physics metrics of generated showers against reference showers")
    ev.add_argument("generated", help="generated shower file")
    ev.add_argument("reference", help="reference shower file (e.g. held-out simulation)")
    ev.add_argument("--geometry", help="geometry name, when the files do not say")
    ev.add_argument("--no-classifier", action="store_true", help="skip the classifier AUCs (the slowest part)")
    ev.add_argument("--high-level-model", choices=["hgb", "mlp"], default="hgb",
                    help="high-level classifier: gradient-boosted trees (default) or a DNN")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", default="metrics.json", help="where to write the full results (default metrics.json)")

    rep = verbs.add_parser("report", help="self-contained HTML report of a run, or of generated vs reference files")
    rep.add_argument("run_dir", nargs="?", help="training run directory (uses its best checkpoint)")
    rep.add_argument("--generated", help="generated shower file (instead of a run directory)")
    rep.add_argument("--reference", help="reference shower file (with --generated)")
    rep.add_argument("--geometry", help="geometry name, when the files do not say")
    rep.add_argument("--no-classifier", action="store_true", help="skip the classifier AUCs")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                     help="override a pass/fail threshold, e.g. --threshold auc_high_level=0.7 "
                          "(names: see hepgan.report.DEFAULT_THRESHOLDS)")
    rep.add_argument("--out", help="HTML file (default: RUN_DIR/report.html or ./report.html)")
    rep.add_argument("--response-reference", type=int, default=0, metavar="N",
                     help="also measure the response and width against N fresh reference-simulator showers per "
                          "energy (runs on simulated data; a ~1,000-shower held-out split measures a width "
                          "to only a few percent)")

    tun = verbs.add_parser("tune", help="hyperparameter search over a training config (Optuna; workers anywhere can join)")
    tun.add_argument("search", help="search file (YAML): base config, space, objective, pruner (see docs/scale-out.md)")
    tun.add_argument("--trials", type=int, help="the study's trial budget, all workers together (default: the file's)")
    stu = verbs.add_parser("study", help="train configs x seeds; tables of mean +- spread of every metric per config")
    stu.add_argument("study", help="study file (YAML): configs, seeds (see docs/scale-out.md)")
    for sub in (tun, stu):
        sub.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
        sub.add_argument("--storage", help="database URL every worker can reach, e.g. postgresql://user@host/db "
                                           "(default: RUN_DIR/study.db, SQLite)")
        sub.add_argument("--report", action="store_true", help="only write the tables of the study as it stands")

    exp = verbs.add_parser("export", help="export a run's generator (with its preprocessing inverse) to ONNX or lwtnn")
    exp.add_argument("run_dir", help="training run directory (uses its best checkpoint, else the last)")
    exp.add_argument("--format", choices=["onnx", "lwtnn"], default="onnx")
    exp.add_argument("--out", required=True, help="output file (.onnx or .json)")
    exp.add_argument("--opset", type=int, help="ONNX opset (default 17)")
    exp.add_argument("--checkpoint", choices=["best", "last"], default="best")

    gen = verbs.add_parser("generate", help="generate showers from a run or an exported model into an HDF5 file")
    gen.add_argument("model", help="run directory, exported .onnx file or lwtnn .json file")
    gen.add_argument("--energies", type=_floats, help="energy points in GeV, e.g. 1,65,262 (with --events)")
    gen.add_argument("--like", metavar="REF.h5", help="one shower per row of this shower file, at its incident "
                                                     "energies (and impact points) in its order")
    gen.add_argument("--spectrum", help=f"a built-in energy spectrum: {', '.join(SPECTRA)}")
    gen.add_argument("--eta", type=float, help="impact eta of every shower (default: drawn like the simulator)")
    gen.add_argument("--events", type=int, help="showers per energy point with --energies; the total with --spectrum "
                                                "(default: the challenge's own number)")
    gen.add_argument("--out", default="showers.h5", help="output HDF5 file (default showers.h5)")
    gen.add_argument("--backend", choices=["torch", "onnx", "numpy"],
                     help="default: torch for a run directory, onnx for .onnx, numpy for lwtnn .json")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--chunk-size", type=int, default=10_000, help="showers generated at a time (bounds memory)")
    gen.add_argument("--strict", action="store_true", help="refuse conditions outside the trained range (default: warn)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        """hepgan's own warnings print as one line naming the verb, like its errors; others as usual."""
        if issubclass(category, HepganWarning):
            print(f"hepgan {args.verb}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        return _run(args)
    finally:
        warnings.showwarning = default


def _run(args: argparse.Namespace) -> int:
    try:
        if args.verb == "quickstart":
            return _quickstart(args)
        if args.verb == "simulate":
            return _simulate(args)
        if args.verb == "train":
            return _train(args)
        if args.verb in ("tune", "study"):
            return _tune_or_study(args)
        if args.verb == "info":
            summary = api.info(args.path, geometry=args.geometry)
            print(json.dumps(summary.rows(), indent=2) if args.json else summary.format())
            return 0
        if args.verb == "evaluate":
            return _evaluate(args)
        if args.verb == "report":
            if (args.run_dir is None) == (args.generated is None or args.reference is None):
                raise ConfigError("give a run directory, or --generated and --reference files")
            path = api.report(args.run_dir, generated=args.generated, reference=args.reference, out=args.out,
                              geometry=args.geometry, classifier=not args.no_classifier, seed=args.seed,
                              thresholds=_thresholds(args.threshold), response_reference=args.response_reference)
            print(f"report: {path}\nmetrics: {path.with_name('metrics.json')}")
            return 0
        if args.verb == "export":
            return _export(args)
        if args.verb == "generate":
            return _generate(args)
        if args.verb == "geometries":
            described = api.geometries()
            if args.json:
                print(json.dumps(described, indent=2))
            else:
                for g in described:
                    print(f"{g['name']:<26} {g['n_cells']:>6} cells  {g['description']}")
            return 0
    except HepganError as exc:
        print(f"hepgan {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output directory that cannot be created
        print(f"hepgan {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hepgan {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 1


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.spectrum is not None:
        clashing = [flag for flag, value in (("--energies", args.energies), ("--energy-range", args.energy_range),
                                             ("--events-per-energy", args.events_per_energy)) if value is not None]
        if clashing:
            raise ConfigError(f"--spectrum replaces {' and '.join(clashing)}: give one or the other "
                              f"(--events sets the spectrum's number of showers)")
    elif args.energies is not None and args.energy_range is not None:
        raise ConfigError("give --energies or --energy-range, not both")
    config = api.load_sim_config(
        args.config,
        geometry=args.geometry,
        particle=args.particle,
        energies_gev=args.energies,
        events_per_energy=args.events_per_energy,
        energy_range_gev=args.energy_range,
        spectrum=args.spectrum,
        n_events=args.events,
        seed=args.seed,
        sampling_term=args.sampling_term,
        constant_term=args.constant_term,
        noise_mev=args.noise_mev,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    summary = api.simulate(config, out=args.out, progress=not args.no_progress, workers=args.workers)
    total = sum(row["n"] for row in summary.rows())
    print(f"wrote {total} {config.particle} showers on {config.geometry} to {args.out} "
          f"in {summary.seconds:.1f} s ({total / summary.seconds:.0f} showers/s)")
    print(summary.format())
    return 0


def _overrides(items: list[str]) -> dict:
    import yaml

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _quickstart(args: argparse.Namespace) -> int:
    from hepgan.quickstart import headline, quickstart

    result = quickstart(args.run_dir, config=args.config, fresh=args.fresh, progress=not args.no_progress,
                        log=lambda line: print(line, flush=True), **_overrides(args.set))
    print(headline(result))
    return 0


def _train(args: argparse.Namespace) -> int:
    overrides = _overrides(args.set)
    if args.no_progress:
        overrides["log.progress"] = False
    result = api.train(args.config, resume=args.resume, **overrides)
    from hepgan.train.distributed import is_main_process

    if not is_main_process():  # torchrun: rank 0 speaks for the run
        return 0
    total = "" if result.trained == result.steps else f" (the run: {result.steps} of {result.planned})"
    print(f"trained {result.trained} steps in {result.seconds:.1f} s{total}; run directory: {result.run_dir}")
    if result.best:
        print(f"best checkpoint: step {result.best['step']} ({result.best['metric']} = {result.best['value']:.4g})")
    if result.last_logs:
        print("last losses: " + ", ".join(f"{k} {v:.4g}" for k, v in result.last_logs.items()))
    return 0


def _tune_or_study(args: argparse.Namespace) -> int:
    if args.verb == "tune":
        result = api.tune(args.search, trials=args.trials, workers=args.workers, storage=args.storage,
                          report=args.report)
    else:
        result = api.study(args.study, workers=args.workers, storage=args.storage, report=args.report)
    if args.report:
        print(result.tables[-3].read_text())
    counts = ", ".join(f"{n} {state.lower()}" for state, n in result.counts.items()) or "no trials yet"
    print(f"study {result.study} in {result.storage}: {counts}")
    best = getattr(result, "best", None)
    if best:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items())
        print(f"best: trial {best['trial']}, {result.objective} = {best['objective']:.4g} ({params})")
    print("tables: " + ", ".join(str(p) for p in result.tables))
    return 0


def _thresholds(items: list[str]) -> dict[str, float]:
    from hepgan.report import DEFAULT_THRESHOLDS

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in DEFAULT_THRESHOLDS:
            raise ConfigError(f"--threshold expects NAME=VALUE with NAME one of {', '.join(DEFAULT_THRESHOLDS)}; got {item!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"--threshold {name}: {value!r} is not a number") from None
    return out


def _evaluate(args: argparse.Namespace) -> int:
    from hepgan.metrics.physics.evaluate import format_summary

    result = api.evaluate(args.generated, args.reference, geometry=args.geometry, classifier=not args.no_classifier,
                          seed=args.seed, out=args.out, high_level_model=args.high_level_model,
                          progress=lambda stage: print(f"evaluate: {stage} ...", file=sys.stderr, flush=True))
    print(format_summary(result))
    print(f"wrote {args.out}")
    return 0



def _export(args: argparse.Namespace) -> int:
    result = api.export(args.run_dir, format=args.format, out=args.out, opset=args.opset, which=args.checkpoint)
    check = result.verification
    opset = f", opset {result.info.extra['opset']}" if args.format == "onnx" else ""
    print(f"exported {result.info.kind} generator (step {result.info.step}) to {args.out} "
          f"({args.format}{opset}, {result.size / 1e6:.2f} MB)")
    print(f"verified on {check['batch']} samples: max |difference| to torch {check['max_abs_diff']:.3g} "
          f"= {check['relative']:.2g} of the largest output (tolerance {check['tolerance']:g})")
    return 0


def _generate(args: argparse.Namespace) -> int:
    def warn(message: str) -> None:
        print(f"hepgan generate: warning: {message}", file=sys.stderr)

    given = [flag for flag, value in (("--energies", args.energies), ("--like", args.like),
                                      ("--spectrum", args.spectrum)) if value is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of --energies (with --events), --like REF.h5 or --spectrum NAME; "
                          + (f"got {' and '.join(given)}" if given else "got none"))
    if args.energies is not None and args.events is None:
        raise ConfigError("--energies needs --events (showers per energy point)")
    if args.like is not None and args.events is not None:
        raise ConfigError("--like generates one shower per row of the reference file; drop --events")
    result = api.generate(args.model, energies_gev=args.energies, events=args.events, like=args.like,
                          spectrum=args.spectrum, out=args.out, eta=args.eta, backend=args.backend, seed=args.seed,
                          chunk_size=args.chunk_size, strict=args.strict, warn=warn)
    if args.energies is not None:
        what = f"{len(result.energies_gev)} energies x {args.events}"
    elif args.like is not None:
        what = f"one per row of {args.like}"
    else:
        what = f"spectrum {args.spectrum}"
    print(f"wrote {result.n} showers ({what}) with the {result.backend} backend to {result.path} in "
          f"{result.seconds:.1f} s ({result.n / max(result.seconds, 1e-9):.0f} showers/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
