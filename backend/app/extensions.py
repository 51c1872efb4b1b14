"""Extension singletons, created unbound here and attached in create_app with init_app."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from app.database import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
socketio = SocketIO()
