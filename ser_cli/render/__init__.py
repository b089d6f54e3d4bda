"""Rich renderables for the CLI: tables, bars and progress. The library never prints."""
