"""The local runtime: executes a SageMaker pipeline definition JSON on this machine.

No AWS account and no Docker engine: job steps run the same `training_containers/` code in
subprocesses under the container contract, mapped onto a work dir that also stands in for S3;
parameters, execution variables, Get / Std:Join / Std:JsonGet, conditions, FailStep, retry
policies, caching and model registration are resolved as SageMaker resolves them.
"""
