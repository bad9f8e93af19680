"""Sample container for private-fargate: an HTTP service with /health, or a job that writes to S3."""
