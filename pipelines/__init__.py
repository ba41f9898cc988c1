"""Drift-triggered retraining on Amazon SageMaker: config, domain decisions and the pipeline
definition. Importing this package does not import the sagemaker SDK or aws_cdk."""
