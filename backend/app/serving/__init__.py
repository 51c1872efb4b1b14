"""The HTTP edge: what the web process does with a connection before, around and after
the WSGI app.

* ``limits``: per-client-address connection counting and the settings of the edge;
* ``responses``: the JSON error envelope for answers given before the app runs (a malformed
  request line, too many connections);
* ``headers``: security headers on every response (a WSGI middleware);
* ``eventlet_server`` / ``gevent_server``: the two servers run.py uses, with a deadline for
  a request's line and headers and the per-address limit. Each imports its own async
  library, so import only the one of the running async mode.
"""
