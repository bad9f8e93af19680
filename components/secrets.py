"""StackSecrets: the values of `secretValues`, stored as SSM SecureString parameters the stack owns.

Each parameter is `/<project>/<stack>/<key>`, so its ARN is built from its name and the task
definitions and execution-role documents that name it are known at a first preview. The value comes
from a `secure:` config value and stays a Pulumi secret (`[secret]` in any preview, encrypted in the
state). Encrypted with the AWS managed key `aws/ssm`, whose key policy already lets principals of
this account decrypt through SSM, so the execution role needs only `ssm:GetParameters` on the
parameter (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html).
A value over 4 KB (a compose file secret such as a key) goes to the advanced tier, which holds 8 KB
(https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.containers import parameter_name
from components.context import StackContext

#: The standard tier's largest value; the advanced tier holds 8 KB (settings refuse more).
STANDARD_MAX_BYTES = 4096


@dataclass(frozen=True)
class StackSecretsArgs:
    """The values by key (from `secretValues`) and the tags."""

    context: StackContext
    values: Mapping[str, str]
    tags: Mapping[str, str] = field(default_factory=dict)


class StackSecrets(pulumi.ComponentResource):
    """One SecureString parameter per key. Attribute: parameters (key -> Parameter)."""

    def __init__(self, name: str, args: StackSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("private-fargate:secrets:StackSecrets", name, None, opts)
        ctx = args.context
        self.parameters: dict[str, aws.ssm.Parameter] = {}
        for key, value in sorted(args.values.items()):
            path = parameter_name(ctx.project, ctx.stack, key)
            self.parameters[key] = aws.ssm.Parameter(
                f"{name}-{key}", name=path, type="SecureString", value=pulumi.Output.secret(value),
                tier="Advanced" if len(value.encode()) > STANDARD_MAX_BYTES else "Standard",
                description=f"secretValues.{key} of {ctx.prefix}", tags={**args.tags, "Name": path},
                opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"parameterNames": sorted(p for p in (parameter_name(ctx.project, ctx.stack, k)
                                                                    for k in args.values))})
