"""Socket.IO: authentication, rooms, rate limits, presence, recovery, emit helpers."""
