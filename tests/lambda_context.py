"""A stand-in for the context object Lambda passes to a handler: the attributes Powertools'
Logger reads (`inject_lambda_context`) and the request id the handlers use."""

from __future__ import annotations


class Context:
    def __init__(self, request_id: str = "req-test", function_name: str = "test-function") -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:111122223333:function:{function_name}"
