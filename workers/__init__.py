"""Background work: the Celery app and its tasks, the in-process job runner, the LLM client."""
