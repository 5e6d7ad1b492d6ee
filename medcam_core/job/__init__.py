"""One job as a pipeline of stages (load → build → fit → evaluate → explain → save) over a small
context, run the same way by the local queue and by worker processes."""
