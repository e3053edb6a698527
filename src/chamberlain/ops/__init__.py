"""The operations layer: every IAM/STS/CloudTrail operation, authorized and transactional."""
