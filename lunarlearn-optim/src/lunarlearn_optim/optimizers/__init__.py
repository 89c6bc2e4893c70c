"""Optimizer classes, one family per module."""
