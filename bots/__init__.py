"""The bots you run (one folder per bot definition) and the composition roots that assemble
processes from settings: the web app, the Celery worker and the `csbot` CLI."""
