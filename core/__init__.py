"""The csbot domain: message types, ports, intake, the conversation engine and its rules.

Nothing in here imports the web framework, the queue, a database driver or a platform SDK;
those live in `channels`, `workers` and `infra` and meet the domain through `core.ports`.
"""
