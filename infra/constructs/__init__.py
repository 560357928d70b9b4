"""Constructs grouped by capability; the stage stack composes them."""
