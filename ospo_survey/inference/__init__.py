"""Inference: weights, weighting schemes and estimates with their uncertainty."""
