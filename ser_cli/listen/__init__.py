"""`ser listen`: device and file sources (sources), the streaming algorithm (stream), the session and its CSV log (session)."""
