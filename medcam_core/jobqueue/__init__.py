"""The queue of jobs: the runner that orders them, their saved state, control from any thread,
executors for other processes, the event log and the one-writer lock.
"""
