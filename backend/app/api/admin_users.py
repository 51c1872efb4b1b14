"""Admin user management: create, list, read, change role, enable/disable."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import admin_required, client_ip, current_principal
from app.api.openapi_spec import describe
from app.api.serializers import page_json, user_json
from app.api.validation import parse_json, parse_query
from app.schemas.users import CreateUserRequest, UpdateUserRequest, UserListQuery
from app.services import user_service

bp = Blueprint("admin_users", __name__, url_prefix="/api/admin/users")
USER_ID = "<int(min=1, max=2147483647):user_id>"


@bp.post("")
@admin_required
@describe(
    "Create a user (admin)",
    tag="admin",
    request=CreateUserRequest,
    responses={201: "Created", 403: "Not an admin", 409: "Username or email taken"},
)
def create_user() -> tuple[Response, int]:
    body = parse_json(CreateUserRequest)
    user = user_service.create_user(
        body.username,
        body.password,
        role=body.role,
        email=body.email,
        actor=current_principal().user,
    )
    return jsonify(user_json(user)), 201


@bp.get("")
@admin_required
@describe("List users (admin)", tag="admin", query=UserListQuery, responses={200: "A page"})
def list_users() -> Response:
    query = parse_query(UserListQuery)
    rows, total = user_service.list_users(
        current_principal().user,
        user_service.UserFilter(
            role=query.role, is_active=query.is_active, limit=query.limit, offset=query.offset
        ),
    )
    return jsonify(page_json([user_json(u) for u in rows], total, query.limit, query.offset))


@bp.get(f"/{USER_ID}")
@admin_required
@describe("One user (admin)", tag="admin", responses={200: "OK", 404: "Unknown user"})
def get_user(user_id: int) -> Response:
    return jsonify(user_json(user_service.get_user(current_principal().user, user_id)))


@bp.patch(f"/{USER_ID}")
@admin_required
@describe(
    "Change a user's role and/or disable or enable them; disabling ends their sessions",
    tag="admin",
    request=UpdateUserRequest,
    responses={200: "Updated", 404: "Unknown user", 409: "Admins cannot demote themselves"},
)
def update_user(user_id: int) -> Response:
    body = parse_json(UpdateUserRequest)
    user = user_service.update_user(
        current_principal().user,
        user_id,
        role=body.role,
        is_active=body.is_active,
        ip_address=client_ip(),
    )
    return jsonify(user_json(user))
