"""Domain logic. Services own validation, authorization and transactions."""
