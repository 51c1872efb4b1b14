"""Standalone mode: the whole platform on one machine with no external service.

The web process (``python run.py --standalone``) starts a Redis stand-in (fakeredis's TCP
server on a free loopback port, in a child process: embedded_redis) that it and its worker
and beat children use as cache, broker, result backend and Socket.IO queue, exactly as
they would a real Redis; and an Ethereum chain (web3's EthereumTesterProvider served over
JSON-RPC by another child, embedded_chain) on which audit batches are anchored with a key
made for this run.

children    how each child process is started and stopped, and the settings it implies
supervisor  the Celery worker and beat children, stopped with the web process
bootstrap   the SQLite database migrated and the first admin created
banner      what the console shows at start
"""
