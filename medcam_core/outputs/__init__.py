"""What lands on disk for a reader: the job folder, results read back from it, the status report."""
