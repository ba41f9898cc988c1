#!/usr/bin/env python3
"""CDK app entry point (`npx cdk synth`, `npx cdk deploy`, or `python app.py`).

One stack per model config listed in cdk.json (`model_configs`); see stacks/ and the README's
"Deploying to AWS". Synthesis is offline: no AWS call, no Docker engine.
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pipelines.errors import ConfigError
from stacks.app import build_app

if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="retraining-staging-") as staging:
        try:
            build_app(staging=Path(staging)).synth()
        except ConfigError as error:  # the errors, one per field, as validate-config prints them
            print(error, file=sys.stderr)
            sys.exit(2)
