"""The model registry: the SageMaker Model Registry's calls as the promotion controller makes them
(`sagemaker`) and a local stand-in with SageMaker's semantics (`local`), side by side."""
