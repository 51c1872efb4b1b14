"""Behavioural biometrics: features from private telemetry, per-user models, evaluation.

Telemetry items follow ARCHITECTURE section 4 (timings and positions, never characters).
``features`` turns raw items into vectors, ``models`` fits and scores per-user models whose
parameters are plain JSON, ``evaluation`` measures them on benchmark data sets.
"""
