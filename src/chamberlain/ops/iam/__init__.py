"""The IAM operations, one module per entity family (users, groups, roles, policies, keys...)."""
