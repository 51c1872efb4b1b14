"""Celery tasks: thin — take ids, load, call one service, emit. Beat entries live beside
their tasks in each module's BEAT_SCHEDULE."""
