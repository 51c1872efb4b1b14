"""Socket.IO entry module (ARCHITECTURE section 2): the SocketIO object, its settings and
get_websocket_stats(). The implementation lives in app.realtime; this module names it."""

from app.extensions import socketio
from app.realtime.server import get_websocket_stats, init_realtime, socketio_options

__all__ = ["get_websocket_stats", "init_realtime", "socketio", "socketio_options"]
