#!/usr/bin/env python3
"""CDK app entry point (`cdk synth` / `cdk deploy`).

The constructs (pipeline, monitoring, trigger, alerts, promotion) are not built yet; until they
are, this entry point refuses to synthesize rather than deploy something partial.
"""

import sys

sys.exit("the CDK stacks are not built yet: `python -m pipelines definition CONFIG` builds the pipeline definition")
