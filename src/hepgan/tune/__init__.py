"""Beyond one training run: hyperparameter search (``hepgan tune``) and multi-seed studies
(``hepgan study``) on Optuna, with workers on one machine or many sharing one study."""

from hepgan.tune.search import Search, TuneResult, load_search, tune
from hepgan.tune.study import Study, StudyResult, load_study, study

__all__ = ["Search", "Study", "StudyResult", "TuneResult", "load_search", "load_study", "study", "tune"]
