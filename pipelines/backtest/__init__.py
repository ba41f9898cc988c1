"""Backtest: replay labelled history through never / calendar / trigger / every-window retraining.

`run.run_backtest` is the entry point (`python -m pipelines backtest`); `history` reads and cuts
the data, `policies` decides, `runner` replays one policy prequentially with the production job
code, gates, monitor, alarms, retrain trigger and shadow verdict, `summary` and `sweep` compare,
`report` writes JSON and HTML.
"""
