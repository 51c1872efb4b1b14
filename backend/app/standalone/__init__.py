"""Standalone mode: the whole platform on one machine with no external service.

The web process (``python run.py --standalone``) starts a Redis stand-in (fakeredis's TCP
server on a free loopback port, in a child process: embedded_redis) that it and its worker
and beat children use as cache, broker, result backend and Socket.IO queue, exactly as
they would a real Redis; and an Ethereum chain (web3's EthereumTesterProvider served over
JSON-RPC by another child, embedded_chain) on which audit batches are anchored with a key
made for this run. It supervises the four children: one that dies is restarted (the same
port, the same key), and SIGINT/SIGTERM stop them all.

platform      the four children, the settings they imply, the state file; what run.py drives
supervisor    starting, watching, restarting (bounded, with backoff) and stopping children
children      how each child is started, found ready and stopped
lifeline      each child ends when the web process is gone
celery_child  the worker and beat: ``celery`` plus that lifeline
state         the state file (addresses, pids; no secret) that ``flask standalone-info`` reads
banner, cli   what the console shows at start; ``flask standalone-info``
bootstrap     the SQLite database migrated and the first admin created
"""
