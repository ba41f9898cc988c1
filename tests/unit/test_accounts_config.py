"""The `accounts` section: roles default to the pipeline's account, a config that names that
account is byte for byte the one-account config, and callers name the group as AWS resolves it."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines import naming
from pipelines.config import ModelConfig, config_to_json, parse_config
from pipelines.errors import ConfigError
from pipelines.promotion.aws import ServingAccount


def with_accounts(config: ModelConfig, **accounts: Any) -> ModelConfig:
    raw = config.model_dump(mode="json")
    return parse_config({**raw, "accounts": accounts})


def test_a_config_naming_its_own_account_is_the_one_account_config(config: ModelConfig) -> None:
    same = with_accounts(config, registry="111122223333", serving="111122223333")
    assert same.single_account and config_to_json(same) == config_to_json(config)
    assert naming.ResourceNames.of(same) == naming.ResourceNames.of(config)


def test_roles_elsewhere_are_named_by_arn_from_other_accounts(config: ModelConfig) -> None:
    three = with_accounts(config, registry="555566667777", serving="222233334444")
    assert not three.single_account and '"registry": "555566667777"' in config_to_json(three)
    group = "arn:aws:sagemaker:us-east-1:555566667777:model-package-group/fraud-detector"
    assert naming.registry_group(three, "111122223333") == group  # the pipeline registers by ARN
    assert naming.registry_group(three, "555566667777") == "fraud-detector"
    assert naming.endpoint_role_arn(three) == "arn:aws:iam::222233334444:role/fraud-detector-endpoint-us-east-1"


def test_an_account_id_that_is_not_twelve_digits_is_refused(config: ModelConfig) -> None:
    with pytest.raises(ConfigError, match=r"accounts\.serving"):
        with_accounts(config, serving="2222-3333-4444")


def test_the_serving_account_deploys_its_copy_of_the_job_image_only(config: ModelConfig) -> None:
    image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-111122223333-us-east-1:ab12"
    two = with_accounts(config, serving="222233334444")
    two = two.model_copy(update={"pipeline": two.pipeline.model_copy(update={"image_uri": image})})
    serving = ServingAccount.of(two)
    copy = "222233334444.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-222233334444-us-east-1:"
    assert serving.image_copy(image) == copy + "ab12"
    assert serving.image_copy(image.replace(":ab12", ":0ld")) == copy + "0ld"  # a version trained earlier
    assert serving.rearm_role_arn == "arn:aws:iam::111122223333:role/fraud-detector-rearm-us-east-1"
    team = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/scorer:3"  # the team's repository grants itself
    framework = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    assert serving.image_copy(team) is None and serving.image_copy(framework) is None
    assert ServingAccount.of(config).image_copy(image) is None  # one account: the package itself
