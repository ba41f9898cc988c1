"""Job code run inside SageMaker Processing and Training jobs (and by the local runtime).

Each job module (`data_pull`, `train`, `evaluate`) is started as `python -m training_containers.X`
and follows the SageMaker container contract described in `contract.py`.
"""
