"""What standalone mode prints at start: that it is for trying out, and where things are."""

BANNER = """\
==============================================================================
 Zero Trust AI platform - STANDALONE MODE (single machine, for trying it out)
 Database: {database}
 Redis:    embedded stand-in at {redis_url} (data lives as long as this process)
 Chain:    in-process Ethereum test chain at {chain_url}; it does NOT outlive this
           process: audit batches are anchored again on the next start's chain
 For real services (PostgreSQL, Redis, RabbitMQ) run `python run.py` with the
 settings of .env.example; see README "Services mode".
=============================================================================="""
