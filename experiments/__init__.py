"""The MLflow/Optuna layer over the ``clustering`` library: tracking, tuning, registry.

Entry points (see MLproject): ``python -m experiments {main,baselines,tune,evaluate,predict}``.
"""
