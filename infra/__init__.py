"""Infrastructure: settings, the database, Redis helpers, logging and metrics, deploy files."""
