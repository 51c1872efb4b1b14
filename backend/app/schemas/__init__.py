"""Request and event payload schemas: validation at the edge."""
