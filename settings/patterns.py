"""The regular expressions of the settings model, each with what it means to a person.

`PATTERN_HELP` turns a pattern mismatch into "expected <what>" in the one-line error (settings/errors.py).
Plain constants: importing this module changes nothing elsewhere.
"""

from __future__ import annotations

import re

ECR_REPO_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
ARN_HEAD = r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?"
KMS_KEY_ARN = re.compile(ARN_HEAD + r":kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+$")
SECRET_ARN = re.compile(ARN_HEAD + r":secretsmanager:([a-z0-9-]+):\d{12}:secret:([A-Za-z0-9/_+=.@-]+)"
                         r"(?::[^:]*:[^:]*:[^:]*)?$")
SSM_ARN = re.compile(ARN_HEAD + r":ssm:([a-z0-9-]+):\d{12}:parameter/[A-Za-z0-9/_.-]+$")
ALARM_ARN = re.compile(ARN_HEAD + r":cloudwatch:([a-z0-9-]+):\d{12}:alarm:(.{1,255})$")
ACM_ARN = re.compile(ARN_HEAD + r":acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
PRIVATE_ECR_URI = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(" + ECR_REPO_NAME + r")"
    r"(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: A plain variable's name may also hold '.' and '-' (Elasticsearch reads `discovery.type`); ECS and Docker take it.
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
WORKLOAD_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
SG_ID = r"^sg-[0-9a-f]{8,17}$"
VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
SUBNET_ID = r"^subnet-[0-9a-f]{8,17}$"
RTB_ID = r"^rtb-[0-9a-f]{8,17}$"
URL_PATH = r"^/\S*$"
ABS_PATH = r"^/[^\s:]*$"
TAG_KEY = r"^[\w .:/=+@-]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SNS_TOPIC_ARN = r"^arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
AZ_NAME_OR_ID = r"^(?:[a-z]{2}(?:-[a-z]+)+-\d[a-z]|[a-z0-9]+-az\d+)$"
#: A port mapping name (ECS: lowercase letters, digits, '_' and '-', up to 64, not starting with '-').
PORT_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: A key of `volumes` or `secretValues` (it becomes part of an EFS access point's and an SSM parameter's name).
STACK_KEY = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
#: A DNS name of two labels or more (`<stack>.<project>.internal`).
DNS_NAME = r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"

#: Pattern -> what it means, for messages a person can act on.
PATTERN_HELP: dict[str, str] = {
    PORT_NAME: "lowercase letters, digits, '_' and '-', up to 64 characters, not starting with '-'",
    STACK_KEY: "letters, digits, '_' and '-', up to 63 characters, starting with a letter or digit",
    DNS_NAME: "a DNS name of two labels or more in lowercase letters, digits and '-' (such as dev.shop.internal)",
    AZ_NAME_OR_ID: "an Availability Zone name (us-east-1a) or zone ID (use1-az1)",
    "^" + ECR_REPO_NAME + "$": "an ECR repository name: lowercase letters, digits, '.', '_', '-', '/' "
                                "(2 to 256 characters)",
    ENV_NAME: "an environment variable name: letters, digits and '_', not starting with a digit",
    ENV_VAR_NAME: "an environment variable name: letters, digits, '_', '.' and '-', starting with a letter or '_'",
    WORKLOAD_NAME: "lowercase letters, digits and '-', 1 to 40 characters, starting and ending with a "
                    "letter or digit",
    SG_ID: "a security group id (sg-0123456789abcdef0)",
    VPC_ID: "a VPC id (vpc-0123456789abcdef0)",
    SUBNET_ID: "a subnet id (subnet-0123456789abcdef0)",
    RTB_ID: "a route table id (rtb-0123456789abcdef0)",
    URL_PATH: "a URL path starting with '/'",
    ABS_PATH: "an absolute path such as /tmp",
    TAG_KEY: "letters, digits, spaces and _ . : / = + - @",
    EMAIL: "an email address",
    SNS_TOPIC_ARN: "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
}
