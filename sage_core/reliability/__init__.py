"""What keeps a job's results right across failures: checkpoints and the storage they go
to, restart strategies (for jobs and for records), and exactly-once file sinks.

It must not hold scheduling: the driver decides when to checkpoint or restart.
"""
