"""What every operation stands on: the operation table and its dispatch, the request context,
AWS's error classes, authentication and authorization, and the entity lookups they share."""
