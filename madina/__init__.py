"""Madina: an open-source smart-city platform built around an NGSI-LD context broker."""

__version__ = "0.1.0"
