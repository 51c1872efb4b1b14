"""Risk: the context of a login session, the engine that scores it, the default decision,
and the stored assessments."""
