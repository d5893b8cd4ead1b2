"""Estimator knowledge: dtype constraints, training-only attributes, tree transforms."""

from .registry import REGISTRY, Knowledge, knowledge_for

__all__ = ["REGISTRY", "Knowledge", "knowledge_for"]
