"""REST blueprints: parse HTTP, call a service, shape JSON."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.api.admin_cache import bp as admin_cache_bp
    from app.api.admin_jobs import bp as admin_jobs_bp
    from app.api.admin_realtime import bp as admin_realtime_bp
    from app.api.admin_users import bp as admin_users_bp
    from app.api.audit import bp as audit_bp
    from app.api.auth import bp as auth_bp
    from app.api.behavior import bp as behavior_bp
    from app.api.health import bp as health_bp
    from app.api.openapi import bp as openapi_bp
    from app.api.risk import bp as risk_bp
    from app.api.sessions import bp as sessions_bp

    for blueprint in (
        health_bp,
        auth_bp,
        sessions_bp,
        admin_users_bp,
        admin_realtime_bp,
        admin_cache_bp,
        admin_jobs_bp,
        audit_bp,
        risk_bp,
        behavior_bp,
        openapi_bp,
    ):
        app.register_blueprint(blueprint)
