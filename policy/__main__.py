"""Builds the policy pack from POLICIES and serves it to the Pulumi CLI (blocks: nothing else belongs here)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.ADVISORY, policies=POLICIES)
