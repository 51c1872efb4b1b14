"""Celery entry point (ARCHITECTURE sections 2 and 6):

    celery -A celery_config.celery_app worker -Q ml_queue,blockchain_queue,policy_queue,default
    celery -A celery_config.celery_app beat
    celery -A celery_config.celery_app events | inspect active | flower

Broker RabbitMQ, results in Redis db 1, JSON only, four durable queues routed by task
module, the beat schedule gathered from the task modules. See app.celery_app.
"""

from app.celery_app import QUEUES, ROUTES, make_celery

celery_app = make_celery()

__all__ = ["QUEUES", "ROUTES", "celery_app"]
