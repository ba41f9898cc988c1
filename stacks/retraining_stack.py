"""One stack per model config, holding the model's `RetrainingLoop`: this project's own app
(app.py) makes one per config named in cdk.json."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from pipelines.config import ModelConfig
from pipelines.naming import ResourceNames
from stacks.retraining_loop import RetrainingLoop

LOOP = "Loop"


def unique_id(path: Sequence[str]) -> str:
    """CDK's logical id for a construct path below its stack (makeUniqueId in aws-cdk-lib
    core/lib/private/uniqueid.ts): 'Default' dropped; a single component used as it is; otherwise
    the path's components, 'Resource' and repeats left out, alphanumerics only, then the first 8 hex
    digits of the md5 of the path joined by '/'."""
    components = [c for c in path if c != "Default"]
    alphanumeric = [re.sub(r"[^A-Za-z0-9]", "", c) for c in components]
    if len(components) == 1 and len(alphanumeric[0]) <= 255:
        return alphanumeric[0]
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(re.sub(r"[^A-Za-z0-9]", "", c) for c in human if c != "Resource")[:240]
    return readable + hashlib.md5("/".join(components).encode()).hexdigest()[:8].upper()


class RetrainingStack(cdk.Stack):
    """Attributes: `names`, `loop` (its `pipeline`, `monitoring`, `trigger`, `alerts`, `promotion`)."""

    def __init__(self, scope: Construct, *, config: ModelConfig, staging: Path) -> None:
        self.names = ResourceNames.of(config)
        super().__init__(
            scope,
            self.names.stack,
            env=cdk.Environment(account=self.names.account, region=self.names.region),
            description=(
                f"Drift-triggered retraining of {self.names.model}: pipeline, monitoring, retrain trigger, alerts, "
                "promotion"
            ),
        )
        cdk.Tags.of(self).add("model", self.names.model)  # CDK's own functions at the stack's top level too
        self.loop = RetrainingLoop(self, LOOP, config=config, staging=staging)

    def _allocate_logical_id(self, cfn_element: cdk.CfnElement) -> str:
        """The ids the resources had when the stack held the loop's constructs itself: the loop's
        construct id left out of the path (a changed logical id would replace the resource, and a
        replaced table, bucket or key loses its data)."""
        default = super()._allocate_logical_id(cfn_element)
        path = [scope.node.id for scope in cfn_element.node.scopes[len(self.node.scopes) :]]
        if unique_id(path) != default:
            raise RuntimeError(f"stacks.retraining_stack.unique_id no longer matches CDK's logical id for {path}")
        return unique_id(path[1:]) if path[0] == LOOP and len(path) > 1 else default
