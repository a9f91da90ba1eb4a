"""What a job reports: per-operator metrics and their Prometheus form, job results and
dead letters, structured logs with secrets masked, and the live progress table.

Holds reporting types and formatting. It must not decide anything about how a job runs.
"""
