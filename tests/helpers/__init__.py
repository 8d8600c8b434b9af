"""Helpers the test modules share: plain functions and constants, no fixtures (those live in conftest.py)."""

