"""private-fargate: wires the validated settings to the components and exports the outputs contract."""

import pulumi

from components.settings import Settings

settings = Settings.load()

pulumi.export("outputsVersion", 1)
pulumi.export("region", settings.region)
