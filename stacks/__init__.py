"""The CDK app's constructs, one folder per concern (pipeline, trigger, alerts, monitoring), each
with its infrastructure beside its Lambda runtime code; `retraining_stack` composes them per model
config and `app` builds the app from the configs named in cdk.json."""
