"""SQLAlchemy models (persistence only). Importing this package registers every table."""

from app.models.audit import AuditBatch, AuditEvent
from app.models.behavior import BehavioralModel, BehavioralSample
from app.models.policy import Policy, PolicyDecision, PolicyVersion
from app.models.risk import RiskAssessment
from app.models.session import UserSession
from app.models.system import Notification, SystemHealthReport
from app.models.threat import ThreatDetection, ThreatPrediction
from app.models.user import Device, LoginAttempt, User

__all__ = [
    "AuditBatch",
    "AuditEvent",
    "BehavioralModel",
    "BehavioralSample",
    "Device",
    "LoginAttempt",
    "Notification",
    "Policy",
    "PolicyDecision",
    "PolicyVersion",
    "RiskAssessment",
    "SystemHealthReport",
    "ThreatDetection",
    "ThreatPrediction",
    "User",
    "UserSession",
]
