"""Metrics that judge generated samples against reference ones.

``hepgan.metrics.physics`` (shower observables, two-sample tests, FPD/KPD, classifier AUC) and
``hepgan.metrics.image`` (IS, FID, PRD) are imported explicitly by whoever needs them; this
package imports nothing itself, so ``import hepgan.metrics`` never pulls in torch.
"""
