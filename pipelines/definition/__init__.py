"""The SageMaker pipeline definition, built from a config with the sagemaker SDK (`builder`):
offline and byte-identical for the same config and code."""
