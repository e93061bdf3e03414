"""Deterministic synthetic training data for the Octopus functional-token model.

Modules: templates (template syntax, slots, numbers), catalog (objects and their images), frames (composite
camera frames), schema (function specs + validation via octopus_ros.actions), build (dataset build, splits,
dataset card), cli (`octopus-ros data synth`, also `python -m octopus_ros.training.synth`).

    from octopus_ros.training.synth import SynthConfig, build_dataset
    summary = build_dataset(SynthConfig.from_yaml("config/train/data.yaml"), "data/default")
"""
from .build import BuildError, SynthConfig
from .build import build as build_dataset

__all__ = ["BuildError", "SynthConfig", "build_dataset"]
