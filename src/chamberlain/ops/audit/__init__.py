"""The audit trail: CloudTrail records and their hash chain, operating the trail, LookupEvents."""
