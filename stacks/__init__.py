"""CDK constructs and stacks (one construct per concern). Not built yet."""
