"""`python -m tools.doctor [WORKLOAD] [--probe]`: why a private task cannot pull, read its secrets or log.

Static checks (describe calls only) compare the deployed network with what a task without an
internet route needs; `--probe` runs a probe task inside the workload's subnets, security group
and roles and reports each hop. One line per check: ok / warn / FAIL, what was seen, and after
`->` what to change. Exit 0 when nothing failed, 1 when a check failed, 2 for bad arguments or an
AWS error, 130 on Ctrl-C.
"""
